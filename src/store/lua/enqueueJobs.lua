--[[ enqueueJobs: create jobs; put the queued ones at the tail of their queue (or, delayed, in its
  delayed set).
  ARGV[4] idempotency key ('' none)  ARGV[5] what its first use is compared with (the type and
           params, src/store/common.ts fingerprint)
  ARGV[6]  the rows' size: ROW_SIZE, or PLAIN_ROW_SIZE when no job has options (lib.lua's enqueueRows)
  ARGV[7..] per job, that many values of the layout ROW of src/store/wire.ts (params as JSON). A
           job with queue "" is a parent (a prime-count job): it is not
           queued, its children carry its id.
  Returns  {the number of jobs created, now}: now is their created_at. One atomic step: a flow's
           chunks all appear at once. With a key whose job is still kept: nothing is created,
           {0, now, its job id, its state, 1 when the fingerprint is the same else 0}. The key
           (a hash: job, fp) lives as long as the job's record (lib.lua's finish).
  Only fields with a value are written; a missing field reads as '' (lib.lua's load()).
]]
local idemKey, fp = ARGV[4], ARGV[5]
if idemKey ~= '' then
  local key = K.idem(idemKey)
  local first = redis.call('HMGET', key, 'job', 'fp')
  if first[1] then
    local state = recordState(K.job(first[1]))
    if state then return { 0, nowStr, first[1], state, first[2] == fp and 1 or 0 } end
  end
  redis.call('HSET', key, 'job', ARGV[6 + ROW.id], 'fp', fp) -- the first row's id (ARGV[6]: the rows' size)
  redis.call('PERSIST', key)
end
local created = enqueueRows(6)
flush()
return { created, nowStr }

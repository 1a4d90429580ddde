--[[ failJob: a held job's attempt failed. Where it goes is decided in TypeScript (backoff policy).
  ARGV[4] id  ARGV[5] token  ARGV[6] error  ARGV[7] target: RETRY | DEAD | FAILURE
  ARGV[8] runAt (RETRY only): when it may run again
  Returns  OK, MISSING or TOKEN_MISMATCH.
  A chunk that ends in DEAD or FAILURE fails its parent at once.
]]
local id, token, err, target, runAt = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local jobKey, j = holder(id, token)
if not jobKey then return j end

if target == 'RETRY' then
  setState(id, jobKey, j, 'RETRY', released({ 'error', err, 'run_at', runAt }))
  unlease(j.queue, id)
  if runAt <= now then
    requeueAtHead(id, j.queue)
  else
    redis.call('ZADD', K.delayed(j.queue), runAt, id)
  end
else
  finish(id, jobKey, j, target, { 'error', err })
  failParent(j, err)
end
flush()
return OK

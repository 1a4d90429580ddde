--[[ claimJobs: take up to `max` jobs from the head of a queue and hold them under a lease.
  ARGV[4] queue  ARGV[5] consumer (becomes handled_by)  ARGV[6] max  ARGV[7] leaseMs
  ARGV[8] token base: claim i gets token "<base>.<i>", unique per claim
  Returns  {nextRunAt or '', {value, ...}, ...}: per job the values of CLAIM_FIELDS (lib.lua,
  src/store/codec.ts), in that order, as they are after the claim; not the whole record.
  Due delayed jobs (RETRY) are promoted first. Jobs cancelled or expired while waiting are
  skipped. The pop, the attempt count, the token and the lease are one step: a consumer that
  dies right after this leaves a lease that lapses, never a lost job.
]]
local queue, consumer = ARGV[4], ARGV[5]
local max, leaseMs, tokenBase = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local waitKey, delayedKey = K.wait(queue), K.delayed(queue)
local leaseUntil = now + leaseMs

-- the head is the right end: push the latest-due first, so the earliest-due is claimed first
local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  variadic('ZREM', delayedKey, due)
  for i = #due, 1, -1 do redis.call('RPUSH', waitKey, due[i]) end
end

local out = { '' }
local n = 0
while n < max do
  local ids = redis.call('RPOP', waitKey, max - n)
  if not ids then break end
  for _, id in ipairs(ids) do
    local jobKey = K.job(id)
    local j = load(jobKey, CLAIM_FIELDS)
    if j and RUNNABLE[j.state] then
      n = n + 1
      local token = tokenBase .. '.' .. n
      j.attempts = tonumber(j.attempts) + 1
      local fields = { 'attempts', j.attempts, 'token', token, 'handled_by', consumer, 'started_at', now }
      if j.run_at ~= '' then
        fields[#fields + 1] = 'run_at'
        fields[#fields + 1] = ''
      end
      setState(id, jobKey, j, 'STARTED', fields)
      lease(queue, id, leaseUntil)
      if j.parent_id ~= '' then
        local parentKey = K.job(j.parent_id)
        local parent = load(parentKey)
        if parent and parent.state == 'PENDING' then
          setState(j.parent_id, parentKey, parent, 'STARTED', { 'started_at', now })
        end
      end
      j.token, j.handled_by, j.run_at, j.attempts = token, consumer, '', tostring(j.attempts)
      local entry = {}
      for i, f in ipairs(CLAIM_FIELDS) do entry[i] = j[f] end
      out[#out + 1] = entry
    end
  end
end

if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), 0, 'm') end
local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
if nextDelayed[2] then out[1] = nextDelayed[2] end
flush()
return out

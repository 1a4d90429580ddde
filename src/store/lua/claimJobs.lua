--[[ claimJobs: take up to `max` jobs from the head of a queue and hold them under a lease.
  ARGV[4] queue  ARGV[5] consumer (becomes handled_by)  ARGV[6] max  ARGV[7] leaseMs
  ARGV[8] token base: claim i gets token "<base>.<i>", unique per claim
  Returns  {nextRunAt or '', {id, token, field, value, ...}, ...}
  Due delayed jobs (RETRY) are promoted first. Jobs cancelled or expired while waiting are
  skipped. The pop, the attempt count, the token and the lease are one step: a consumer that
  dies right after this leaves a lease that lapses, never a lost job.
]]
local queue, consumer = ARGV[4], ARGV[5]
local max, leaseMs, tokenBase = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local waitKey, activeKey, delayedKey = K.wait(queue), K.active(queue), K.delayed(queue)
local leaseUntil = now + leaseMs

-- the head is the right end: push the latest-due first, so the earliest-due is claimed first
local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
for i = #due, 1, -1 do
  redis.call('ZREM', delayedKey, due[i])
  redis.call('RPUSH', waitKey, due[i])
end

local out = { '' }
local n = 0
while n < max do
  local id = redis.call('RPOP', waitKey)
  if not id then break end
  local jobKey = K.job(id)
  local j = load(jobKey)
  if j and RUNNABLE[j.state] then
    n = n + 1
    local token = tokenBase .. '.' .. n
    setState(id, jobKey, j, 'STARTED', { 'attempts', tonumber(j.attempts) + 1, 'token', token,
      'handled_by', consumer, 'started_at', now, 'lease_until', leaseUntil, 'run_at', '' })
    redis.call('ZADD', activeKey, leaseUntil, id)
    if j.parent_id ~= '' then
      local parentKey = K.job(j.parent_id)
      local parent = load(parentKey)
      if parent and parent.state == 'PENDING' then
        setState(j.parent_id, parentKey, parent, 'STARTED', { 'started_at', now })
      end
    end
    local entry = { id, token }
    for _, v in ipairs(redis.call('HGETALL', jobKey)) do entry[#entry + 1] = v end
    out[#out + 1] = entry
  end
end

if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), 0, 'm') end
local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
if nextDelayed[2] then out[1] = nextDelayed[2] end
return out

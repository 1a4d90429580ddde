--[[ reapExpiredLeases: return jobs whose holder stopped renewing (killed, frozen, cut off).
  ARGV[4] queue  ARGV[5] limit
  Returns  {{requeued ids}, {dead ids}}
  A job with attempts left goes back to the head of its queue as RETRY; one that used every
  attempt goes DEAD (and fails its parent). Also housekeeping, up to 10 × limit ids: drops
  expired jobs from the indexes and trims the event log to eventRetentionMs.
]]
local queue, limit = ARGV[4], argNumber(ARGV[5], 'limit')
local requeued, dead = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.active(queue), '-inf', now, 'LIMIT', 0, limit)) do
  local jobKey = K.job(id)
  local j = load(jobKey)
  if not j or not HELD[j.state] then
    redis.call('ZREM', K.active(queue), id)
  elseif reclaim(id, jobKey, j, 'lease expired') == 'DEAD' then
    dead[#dead + 1] = id
  else
    requeued[#requeued + 1] = id
  end
end

local cutoff = now - resultTtl
for _, s in ipairs({ 'SUCCESS', 'FAILURE', 'CANCELLED' }) do
  local gone = redis.call('ZRANGEBYSCORE', K.state(s), '-inf', cutoff, 'LIMIT', 0, limit * 10)
  variadic('ZREM', K.state(s), gone)
  variadic('ZREM', K.jobs, gone)
end
redis.call('XTRIM', K.events, 'MINID', '~', math.max(0, now - eventRetention))
flush()
return { requeued, dead }

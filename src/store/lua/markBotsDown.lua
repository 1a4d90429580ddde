--[[ markBotsDown: bots silent for downAfterMs are down; the job each held goes back to the head
  of its queue (RETRY; DEAD when out of attempts), in the same step. Run by the scheduler.
  ARGV[4] downAfterMs  ARGV[5] limit
  Returns  {{bot ids marked down}, {job ids taken back}}
  A bot that fell silent while no scheduler could reach Redis (nor, then, the API its heartbeats
  go through) gets downAfterMs more to be heard (lib-state.lua's reapableUpTo).
]]
local downAfter, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local down, reclaimed = {}, {}
local silentSince = reapableUpTo(K.botsReaper, downAfter) - downAfter
for _, botId in ipairs(redis.call('ZRANGEBYSCORE', K.botsUp, '-inf', silentSince, 'LIMIT', 0, limit)) do
  redis.call('ZREM', K.botsUp, botId)
  local botKey = K.bot(botId)
  local f = redis.call('HMGET', botKey, 'current_job', 'job_token', 'last_heartbeat')
  if f[1] then
    redis.call('HSET', botKey, 'status', 'down', 'down_at', nowStr, 'current_job', '', 'job_token', '')
    down[#down + 1] = botId
    local jobKey = f[1] ~= '' and K.job(f[1])
    local j = jobKey and load(jobKey)
    if j and HELD[j.state] and j.token == f[2] then
      reclaim(f[1], jobKey, j, 'bot down: no heartbeat for ' .. (now - tonumber(f[3])) .. ' ms')
      reclaimed[#reclaimed + 1] = f[1]
    end
  end
end
flush()
return { down, reclaimed }

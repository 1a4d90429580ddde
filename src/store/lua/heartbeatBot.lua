--[[ heartbeatBot: a bot is alive. It is up (again), and the lease of the job it holds is pushed
  out: a bot's job lives as long as the bot does (the lease is botDownAfterMs, renewed here).
  ARGV[4] bot id  ARGV[5] leaseMs
  Returns  the bot's record (HGETALL), or an empty array when there is no such bot. A job it no
  longer holds (reclaimed while it was silent, or finished) is forgotten: current_job says so.
]]
local botId, leaseMs = ARGV[4], argNumber(ARGV[5], 'leaseMs')
local botKey = K.bot(botId)
if redis.call('EXISTS', botKey) == 0 then return {} end
redis.call('HSET', botKey, 'last_heartbeat', nowStr, 'status', 'up', 'down_at', '')
redis.call('ZADD', K.botsUp, nowStr, botId)
local held = redis.call('HMGET', botKey, 'current_job', 'job_token')
if held[1] ~= '' then
  local jobKey = K.job(held[1])
  local j = load(jobKey)
  if j and j.token == held[2] then
    redis.call('ZADD', K.active(j.queue), 'XX', now + leaseMs, held[1])
  else
    redis.call('HSET', botKey, 'current_job', '', 'job_token', '')
  end
end
return redis.call('HGETALL', botKey)

--[[ removeBot: a bot leaves (it deregisters on SIGTERM) or an admin deletes it. The job it holds
  goes back to the head of its queue, the attempt not counted.
  ARGV[4] bot id
  Returns  OK or BOT_MISSING.
]]
local botId = ARGV[4]
local botKey = K.bot(botId)
local f = redis.call('HMGET', botKey, 'token_hash', 'current_job', 'job_token')
if not f[1] then return BOT_MISSING end
if f[2] ~= '' then
  local jobKey = K.job(f[2])
  local j = load(jobKey)
  if j and j.token == f[3] then releaseHeld(f[2], jobKey, j) end
end
redis.call('HDEL', K.botTokens, f[1])
redis.call('DEL', botKey)
redis.call('ZREM', K.bots, botId)
redis.call('ZREM', K.botsUp, botId)
flush()
return OK

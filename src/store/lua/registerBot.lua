--[[ registerBot: a new bot joins (the bots' POST /bots/register).
  ARGV[4] bot id  ARGV[5] name  ARGV[6] sha256 of its token (the token itself is never stored)
  Returns  the bot's record (HGETALL).
]]
local botId, name, tokenHash = ARGV[4], ARGV[5], ARGV[6]
local botKey = K.bot(botId)
redis.call('HSET', botKey, 'id', botId, 'name', name, 'token_hash', tokenHash, 'status', 'up',
  'registered_at', nowStr, 'last_heartbeat', nowStr, 'down_at', '', 'current_job', '', 'job_token', '',
  'jobs_done', 0, 'jobs_failed', 0)
redis.call('HSET', K.botTokens, tokenHash, botId)
redis.call('ZADD', K.bots, nowStr, botId)
redis.call('ZADD', K.botsUp, nowStr, botId)
return redis.call('HGETALL', botKey)

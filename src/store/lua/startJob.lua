--[[ startJob: the bot holding a job begins the work (seed 004's POST /jobs/:id/start):
  STARTED → PROGRESS, started_at now. Starting a job already started is a no-op (a retried request).
  ARGV[4] id  ARGV[5] bot id
  Returns  OK, MISSING, TOKEN_MISMATCH, NOT_HOLDER or BOT_MISSING.
]]
local id, botId = ARGV[4], ARGV[5]
local jobKey, code = holderOrBot(id, nil, botId)
if not jobKey then return code end
local state = redis.call('HGET', jobKey, 'state')
if state == 'STARTED' then
  redis.call('HSET', jobKey, 'started_at', now)
  setState(id, jobKey, state, 'PROGRESS')
end
return OK

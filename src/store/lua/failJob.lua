--[[ failJob: a held job's attempt failed. Where it goes is decided in TypeScript (backoff policy).
  ARGV[4] id  ARGV[5] token  ARGV[6] error  ARGV[7] target: RETRY | DEAD | FAILURE
  ARGV[8] runAt (RETRY only): when it may run again
  ARGV[9] bot id (optional): a bot through the API, as in completeJob
  Returns  OK, MISSING or TOKEN_MISMATCH; for a bot also NOT_HOLDER or BOT_MISSING.
  A chunk that ends in DEAD or FAILURE fails its parent at once.
]]
local id, token, err, target, runAt, botId = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local jobKey, code = holderOrBot(id, token, botId)
if not jobKey then return code end
if botId then botDone(botId, 'jobs_failed') end

local from = redis.call('HGET', jobKey, 'state')
local queue = redis.call('HGET', jobKey, 'queue')
redis.call('HSET', jobKey, 'error', err)
if target == 'RETRY' then
  redis.call('HDEL', jobKey, 'token', 'lease_until')
  redis.call('HSET', jobKey, 'run_at', runAt)
  redis.call('ZREM', K.active(queue), id)
  setState(id, jobKey, from, 'RETRY')
  if runAt <= now then
    requeueAtHead(id, queue)
  else
    redis.call('ZADD', K.delayed(queue), runAt, id)
  end
  return OK
end

setState(id, jobKey, from, target)
finish(id, jobKey, target)
failParent(id, jobKey, err)
return OK

--[[ releaseJob: give a held job back (a consumer shutting down); the attempt does not count.
  ARGV[4] id  ARGV[5] token
  Returns  OK, MISSING or TOKEN_MISMATCH.
]]
local id, token = ARGV[4], ARGV[5]
local jobKey, code = holder(id, token)
if not jobKey then return code end
local queue = redis.call('HGET', jobKey, 'queue')
redis.call('HINCRBY', jobKey, 'attempts', -1)
redis.call('HDEL', jobKey, 'token', 'lease_until')
redis.call('HSET', jobKey, 'handled_by', '')
redis.call('ZREM', K.active(queue), id)
setState(id, jobKey, redis.call('HGET', jobKey, 'state'), 'PENDING')
requeueAtHead(id, queue)
return OK

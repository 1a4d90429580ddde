--[[ purgeDeadJobs: delete up to `limit` jobs from the dead-letter queue, oldest first.
  ARGV[4] limit
  Returns  the number deleted (call again until 0).
]]
local ids = redis.call('ZRANGE', K.dlq, 0, argNumber(ARGV[4], 'limit') - 1)
for _, id in ipairs(ids) do redis.call('DEL', K.job(id)) end
variadic('ZREM', K.state('DEAD'), ids)
variadic('ZREM', K.jobs, ids)
variadic('ZREM', K.dlq, ids)
return #ids

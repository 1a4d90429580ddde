--[[ checkJob: read a job and record which API node looked at it (checked_by).
  ARGV[4] id  ARGV[5] checker node id
  Returns  the job's fields (HGETALL), or an empty array when there is no such job.
]]
local jobKey = K.job(ARGV[4])
if redis.call('EXISTS', jobKey) == 0 then return {} end
redis.call('HSET', jobKey, 'checked_by', ARGV[5])
return redis.call('HGETALL', jobKey)

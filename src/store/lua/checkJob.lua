--[[ checkJob: read a job and record which API node looked at it (checked_by).
  ARGV[4] id  ARGV[5] checker node id
  Returns  the job's fields (HGETALL), or an empty array when there is no such job (or the id
  names a key that is not a job's record: lib.lua's jobKeyFor, isJobState).
]]
local jobKey = jobKeyFor(ARGV[4])
if not jobKey or not isJobState(recordState(jobKey)) then return {} end
redis.call('HSET', jobKey, 'checked_by', ARGV[5])
return redis.call('HGETALL', jobKey)

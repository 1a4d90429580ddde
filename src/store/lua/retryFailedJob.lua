--[[ retryFailedJob: a job that ended in FAILURE back at the tail of its queue, its attempts
  counted from zero again, and no longer expiring (a finished job's record has a TTL).
  ARGV[4] id
  Returns  OK, MISSING, or CONFLICT when the job is not FAILURE, is on no queue (a prime count:
  its chunks run, not it) or is a chunk (its parent finished with it).
]]
local id = ARGV[4]
local jobKey = jobKeyFor(id)
local j = load(jobKey)
if not j then return MISSING end
if j.state ~= 'FAILURE' or j.queue == '' or j.parent_id ~= '' then return CONFLICT end
redis.call('PERSIST', jobKey)
return requeueAnew(id, jobKey, j)

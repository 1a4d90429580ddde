--[[ retryDeadJob: take a job out of the dead-letter queue and put it at the tail of its queue,
  its attempts counted from zero again; a flow's node resumes its flow (lib-flow.lua's reopenNode).
  ARGV[4] id
  Returns  OK, MISSING, or CONFLICT when the job is not DEAD, or is a chunk whose parent has
  already finished (retrying it alone would count for nothing).
]]
local id = ARGV[4]
local jobKey = jobKeyFor(id)
local j = load(jobKey)
if not j then return MISSING end
if j.state ~= 'DEAD' then return CONFLICT end
if j.parent_id ~= '' then
  local parent = load(jobKeyFor(j.parent_id))
  if not parent or FINAL[parent.state] then return CONFLICT end
end
redis.call('ZREM', K.dlq, id)
if j.flow_id then reopenNode(j.flow_id, id) end
return requeueAnew(id, jobKey, j)

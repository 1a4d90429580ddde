--[[ cancelFlow: cancel every node of a flow that has not finished (POST /flows/:id/cancel): each
  as cancelJob cancels a job; a node waiting on its deps is cancelled with them (lib-flow.lua).
  ARGV[4] the flow's id
  Returns  {OK}, {MISSING} or {CONFLICT, state} when the flow has finished.
]]
local flowId = ARGV[4]
local flowKey = K.flowRecord(flowId)
local state = redis.call('HGET', flowKey, 'state')
if not state then return { MISSING } end
if state ~= 'RUNNING' then return { CONFLICT, state } end
redis.call('HSET', flowKey, 'cancelled', '1')
for _, id in ipairs(redis.call('HVALS', K.flowNodes(flowId))) do
  local jobKey = K.job(id)
  local j = load(jobKey)
  if j and not FINAL[j.state] then cancel(id, jobKey, j) end
end
flush()
return { OK }

--[[ cancelFlow: cancel every node of a flow that has not finished (POST /flows/:id/cancel): each
  as cancelJob cancels a job; a node waiting on its deps is cancelled with them (lib-flow.lua). A
  flow spread over shards: its nodes in this (its home) shard now, the other shards' through the
  outbox (one entry per shard, delivered as a completion's are).
  ARGV[4] the flow's id
  Returns  {OK}, {MISSING} or {CONFLICT, state} when the flow has finished.
]]
local flowId = ARGV[4]
local flowKey = K.flowRecord(flowId)
local f = redis.call('HMGET', flowKey, 'state', 'parts')
local state = f[1]
if not state then return { MISSING } end
if state ~= 'RUNNING' then return { CONFLICT, state } end
cancelFlowHere(flowId)
for shard in string.gmatch(f[2] or '', '[^,]+') do outbox({ 'cancel', flowId, shard }) end
flush()
return { OK }

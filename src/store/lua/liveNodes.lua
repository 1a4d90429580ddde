--[[ liveNodes: the nodes of a role whose last heartbeat (heartbeatNode.lua) has not lapsed, by
  Redis's clock; the lapsed ones are dropped from the role's set.
  ARGV[4] role
  Returns  {node id, its info (JSON, with seenAt), ...}, soonest to lapse first
]]
local nodesKey = K.nodes(ARGV[4])
redis.call('ZREMRANGEBYSCORE', nodesKey, '-inf', now)
local out = {}
for _, nodeId in ipairs(redis.call('ZRANGE', nodesKey, 0, -1)) do
  local value = redis.call('GET', K.node(ARGV[4], nodeId))
  if value then
    out[#out + 1] = nodeId
    out[#out + 1] = value
  end
end
return out

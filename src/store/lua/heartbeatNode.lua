--[[ heartbeatNode: a node (a worker, a scheduler) is alive for ttlMs more, by Redis's clock, so a
  node whose own clock is off is still seen live for exactly ttlMs (liveNodes.lua reads it).
  ARGV[4] role  ARGV[5] node id  ARGV[6] ttlMs  ARGV[7] what the node says of itself (a JSON object)
  Its info, with seenAt (now) added, is kept under a key that expires in ttlMs; the role's set
  scores the node with now + ttlMs.
  Returns  OK
]]
local role, nodeId, ttl, info = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local value = info == '{}' and '{"seenAt":' .. nowStr .. '}' or string.sub(info, 1, -2) .. ',"seenAt":' .. nowStr .. '}'
redis.call('SET', K.node(role, nodeId), value, 'PX', ttl)
redis.call('ZADD', K.nodes(role), now + argNumber(ttl, 'ttlMs'), nodeId)
return OK

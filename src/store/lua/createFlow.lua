--[[ createFlow: a flow's nodes as jobs, in one step (POST /flows; lib-flow.lua says how they run);
  a flow spread over shards is made one shard at a time, its other shards (parts) before its home.
  ARGV[4]  the flow's id   ARGV[5] its name   ARGV[6] the principal ('' none)
  ARGV[7]  idempotency key ('' none)   ARGV[8] what its first use is compared with
  ARGV[9]  this shard's nodes' links as JSON: [ [job id, node id, on_dep_failure, dep job ids
           (comma-separated), dependents' job ids in this shard, dependents' job ids in other
           shards], ...] in the rows' order
  ARGV[10] '' (the whole flow is in this shard), 'home' or 'part'
  ARGV[11] home: how many nodes the flow has   ARGV[12] home: every node as JSON [node id, job id, ...]
  ARGV[13] home: the other shards holding nodes (comma-separated); each '' otherwise
  ARGV[14] the rows' size (ROW_SIZE)   ARGV[15..] per node of this shard a row (lib-queue.lua's
           enqueueRows): a node with deps has deps_left, which holds it out of its queue
  Returns  {OK, now} or, with a key whose flow is still kept, {CONFLICT, now, its flow id, 1 when the
           fingerprint is the same else 0}
]]
local flowId, name, principal, idemKey, fp = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local role = ARGV[10]
if idemKey ~= '' then
  local key = K.flowIdem(idemKey)
  local first = redis.call('HMGET', key, 'flow', 'fp')
  if first[1] and redis.call('EXISTS', K.flowRecord(first[1])) == 1 then
    return { CONFLICT, nowStr, first[1], first[2] == fp and 1 or 0 }
  end
  redis.call('HSET', key, 'flow', flowId, 'fp', fp)
  redis.call('PERSIST', key)
end
local links = cjson.decode(ARGV[9])
local created = enqueueRows(14)
local nodes, nexts, fars = {}, {}, {}
for _, l in ipairs(links) do
  local jobId, node, policy, deps, dependents, far = l[1], l[2], l[3], l[4], l[5], l[6]
  if policy ~= 'fail' then
    redis.call('HSET', K.job(jobId), 'flow_node', node, 'dep_ids', deps, 'on_dep_failure', policy)
  else
    redis.call('HSET', K.job(jobId), 'flow_node', node, 'dep_ids', deps)
  end
  nodes[#nodes + 1] = node
  nodes[#nodes + 1] = jobId
  if dependents ~= '' then
    nexts[#nexts + 1] = jobId
    nexts[#nexts + 1] = dependents
  end
  if far and far ~= '' then
    fars[#fars + 1] = jobId
    fars[#fars + 1] = far
  end
end
if role == 'part' then
  redis.call('HSET', K.flowRecord(flowId), 'spread', '1', 'part', '1', 'left', countStr(created))
elseif role == 'home' then
  nodes = cjson.decode(ARGV[12])
  redis.call('HSET', K.flowRecord(flowId), 'state', 'RUNNING', 'name', name, 'total', ARGV[11], 'done', '0',
    'succeeded', '0', 'created_at', nowStr, 'principal', principal, 'idem', idemKey, 'spread', '1', 'parts', ARGV[13])
else
  redis.call('HSET', K.flowRecord(flowId), 'state', 'RUNNING', 'name', name, 'total', countStr(created), 'done', '0',
    'succeeded', '0', 'created_at', nowStr, 'principal', principal, 'idem', idemKey)
end
if #nodes > 0 then variadic('HSET', K.flowNodes(flowId), nodes) end
if #nexts > 0 then variadic('HSET', K.flowNext(flowId), nexts) end
if #fars > 0 then variadic('HSET', K.flowFar(flowId), fars) end
if role ~= 'part' then redis.call('ZADD', K.flows, now, flowId) end
flush()
return { OK, nowStr }

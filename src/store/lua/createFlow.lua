--[[ createFlow: a flow's nodes as jobs, in one step (POST /flows; lib-flow.lua says how they run).
  ARGV[4]  the flow's id   ARGV[5] its name   ARGV[6] the principal ('' none)
  ARGV[7]  idempotency key ('' none)   ARGV[8] what its first use is compared with
  ARGV[9]  the nodes' links as JSON: [[job id, node id, on_dep_failure, dep job ids (comma-separated),
           dependents' job ids (comma-separated)], ...] in the rows' order
  ARGV[10] the rows' size (ROW_SIZE)   ARGV[11..] per node a row (lib-queue.lua's enqueueRows): a
           node with deps has deps_left, which holds it out of its queue
  Returns  {OK, now} or, with a key whose flow is still kept, {CONFLICT, now, its flow id, 1 when the
           fingerprint is the same else 0}
]]
local flowId, name, principal, idemKey, fp = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
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
local created = enqueueRows(10)
local nodes, nexts = {}, {}
for _, l in ipairs(links) do
  local jobId, node, policy, deps, dependents = l[1], l[2], l[3], l[4], l[5]
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
end
redis.call('HSET', K.flowRecord(flowId), 'state', 'RUNNING', 'name', name, 'total', countStr(created), 'done', '0',
  'succeeded', '0', 'created_at', nowStr, 'principal', principal, 'idem', idemKey)
variadic('HSET', K.flowNodes(flowId), nodes)
if #nexts > 0 then variadic('HSET', K.flowNext(flowId), nexts) end
redis.call('ZADD', K.flows, now, flowId)
flush()
return { OK, nowStr }

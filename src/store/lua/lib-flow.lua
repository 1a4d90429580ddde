-- lib-flow.lua (after lib-bots.lua): flows, graphs of jobs (docs/flows.md). A node is a job with
-- flow_id, flow_node (its id in the flow), dep_ids (its deps' job ids, comma-separated) and,
-- while some of its deps have not finished, deps_left: such a node is PENDING but out of its
-- queue (enqueueRows holds it). The step that finishes a node (lib-state.lua's finish, whatever
-- made it: a completion, a failure for good, a cancel, a skip) settles its dependents in that same
-- step: each counts the dep down once (deps_left), and, the last one finished, is pushed onto its
-- queue with its deps' outcomes in its record (deps, which the claim reads); a dep that did not
-- succeed applies the node's on_dep_failure at once (fail: FAILURE, skip: SKIPPED, each settling
-- its own dependents in turn; continue: it runs when its deps are done). No poll, no second run.

local flowWork = nil -- while dependents are settled: {flowId, id, to, ...}; a finish inside appends

-- a node's deps' outcomes as JSON, node id → {state, result?, error?} (result: the stored JSON as is)
local function depOutcomes(jobKey)
  local parts = {}
  for dep in string.gmatch(redis.call('HGET', jobKey, 'dep_ids') or '', '[^,]+') do
    local f = redis.call('HMGET', K.job(dep), 'flow_node', 'state', 'result', 'error')
    local o = '{"state":' .. cjson.encode(f[2] or 'MISSING')
    if f[2] == 'SUCCESS' and f[3] and f[3] ~= '' then o = o .. ',"result":' .. f[3] end
    if f[2] ~= 'SUCCESS' and f[4] and f[4] ~= '' then o = o .. ',"error":' .. cjson.encode(f[4]) end
    parts[#parts + 1] = cjson.encode(f[1] or dep) .. ':' .. o .. '}'
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- one node of a flow finished `to`: count it, settle its dependents, end the flow when all are final
local function settleNode(flowId, id, to)
  local flowKey = K.flowRecord(flowId)
  local f = redis.call('HMGET', flowKey, 'state', 'total', 'cancelled')
  if not f[1] then return end -- the flow expired
  local done = redis.call('HINCRBY', flowKey, 'done', 1)
  if to == 'SUCCESS' then redis.call('HINCRBY', flowKey, 'succeeded', 1) end
  local failed = DEP_FAILED[to]
  local nexts = redis.call('HGET', K.flowNext(flowId), id)
  local node
  for d in string.gmatch(nexts or '', '[^,]+') do
    local dk = K.job(d)
    local dj = load(dk)
    if dj and dj.state == 'PENDING' and (tonumber(redis.call('HGET', dk, 'deps_left')) or 0) > 0 then
      local left = redis.call('HINCRBY', dk, 'deps_left', -1)
      local policy = redis.call('HGET', dk, 'on_dep_failure') or 'fail'
      if f[3] == '1' then
        finish(d, dk, dj, 'CANCELLED', 'error', 'cancelled: flow ' .. flowId .. ' was cancelled')
      elseif failed and policy ~= 'continue' then
        node = node or redis.call('HGET', K.job(id), 'flow_node') or id
        finish(d, dk, dj, policy == 'skip' and 'SKIPPED' or 'FAILURE', 'error', 'dep ' .. node .. ' ended ' .. to)
      elseif left <= 0 then
        redis.call('HSET', dk, 'deps', depOutcomes(dk))
        requeueAtHead(d, dj.queue, dj.priority, dj.cpu, dj.group)
      end
    end
  end
  local total = tonumber(f[2]) or 0
  if done >= total and f[1] == 'RUNNING' then
    local succeeded = tonumber(redis.call('HGET', flowKey, 'succeeded')) or 0
    local state = f[3] == '1' and 'CANCELLED' or (succeeded >= total and 'SUCCESS' or 'FAILURE')
    redis.call('HSET', flowKey, 'state', state, 'finished_at', nowStr)
    for _, key in ipairs({ flowKey, K.flowNodes(flowId), K.flowNext(flowId) }) do redis.call('PEXPIRE', key, ttlStr) end
    local idem = redis.call('HGET', flowKey, 'idem')
    if idem and idem ~= '' then redis.call('PEXPIRE', K.flowIdem(idem), ttlStr) end
  end
end

flowNodeFinished = function(flowId, id, to)
  if flowWork then
    flowWork[#flowWork + 1] = { flowId, id, to }
    return
  end
  flowWork = { { flowId, id, to } }
  local i = 1
  while i <= #flowWork do
    local w = flowWork[i]
    settleNode(w[1], w[2], w[3])
    i = i + 1
  end
  flowWork = nil
end

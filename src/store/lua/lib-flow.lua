-- lib-flow.lua (after lib-bots.lua): flows, graphs of jobs (docs/flows.md). A node is a job with
-- flow_id, flow_node (its id in the flow), dep_ids (its deps' job ids, comma-separated) and,
-- while some of its deps have not finished, deps_left: such a node is PENDING but out of its
-- queue (enqueueRows holds it). The step that finishes a node (lib-state.lua's finish, whatever
-- made it: a completion, a failure for good, a cancel, a skip) settles its dependents in that same
-- step: each counts the dep down once (deps_left), and, the last one finished, is pushed onto its
-- queue with its deps' outcomes in its record (deps, which the claim reads); a dep that did not
-- succeed applies the node's on_dep_failure at once (fail: FAILURE, skip: SKIPPED, each settling
-- its own dependents in turn; continue: it runs when its deps are done). No poll, no second run.
--
-- A flow spread over shards (docs/flows.md "On a Redis Cluster"): its record in its home shard (the
-- flow id's) counts every node; each other shard holding nodes has a part record (spread, part,
-- left: its nodes not yet final) and its own edges. A dependent in another shard (flowFar) is told
-- through this shard's outbox (K.flowOutbox), written in the finishing step: the process that ran
-- it, or later the recovery, delivers each entry to that shard (flowDeliver.lua), where a
-- per-node hash of the deps heard from (K.depsIn, HSETNX) counts a delivery once; a part's node
-- tells the home shard it finished the same way (K.flowCounted, SADD).

local flowWork = nil -- while dependents are settled: {flowId, id, to, ...}; a finish inside appends (nil when a call starts, beginCall)

-- a finished node's outcome as its dependents are given it: `"<node id>":{state, result?, error?}`
-- (result: the stored JSON as is), from its record in this shard, or as delivered (K.depsIn of
-- `forId`), or MISSING
local function outcomeOf(dep, forId)
  local f = redis.call('HMGET', K.job(dep), 'flow_node', 'state', 'result', 'error')
  if not f[2] and forId then
    local heard = redis.call('HGET', K.depsIn(forId), dep)
    if heard then return heard end
  end
  local o = '{"state":' .. cjson.encode(f[2] or 'MISSING')
  if f[2] == 'SUCCESS' and f[3] and f[3] ~= '' then o = o .. ',"result":' .. f[3] end
  if f[2] ~= 'SUCCESS' and f[4] and f[4] ~= '' then o = o .. ',"error":' .. cjson.encode(f[4]) end
  return cjson.encode(f[1] or dep) .. ':' .. o .. '}'
end

-- a node's deps' outcomes as JSON, node id → {state, result?, error?}
local function depOutcomes(id, jobKey)
  local parts = {}
  for dep in string.gmatch(redis.call('HGET', jobKey, 'dep_ids') or '', '[^,]+') do
    parts[#parts + 1] = outcomeOf(dep, id)
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- one dep of node d (in this shard) finished `to`: count it down once (the caller made sure this dep
-- is counted once), and apply d's policy, or make it ready when it was the last; `depNode()` names the dep
local function settleDependent(flowId, d, to, cancelled, depNode)
  local dk = K.job(d)
  local dj = load(dk)
  if not (dj and dj.state == 'PENDING' and (tonumber(redis.call('HGET', dk, 'deps_left')) or 0) > 0) then return end
  local left = redis.call('HINCRBY', dk, 'deps_left', -1)
  local policy = redis.call('HGET', dk, 'on_dep_failure') or 'fail'
  if cancelled then
    finish(d, dk, dj, 'CANCELLED', 'error', 'cancelled: flow ' .. flowId .. ' was cancelled')
  elseif DEP_FAILED[to] and policy ~= 'continue' then
    finish(d, dk, dj, policy == 'skip' and 'SKIPPED' or 'FAILURE', 'error', 'dep ' .. depNode() .. ' ended ' .. to)
  elseif left <= 0 then
    redis.call('HSET', dk, 'deps', depOutcomes(d, dk))
    requeueAtHead(d, dj.queue, dj.priority, dj.cpu, dj.group)
  end
end

-- tell another shard: an entry of this shard's outbox (flowDeliver.lua's layout), once
local function outbox(entry)
  redis.call('ZADD', K.flowOutbox, 'NX', now, cjson.encode(entry))
end

-- the flow's home shard counts one node final (`to`); the last ends the flow
local function countNode(flowId, to)
  local flowKey = K.flowRecord(flowId)
  local f = redis.call('HMGET', flowKey, 'state', 'total', 'cancelled')
  if not f[1] then return end -- the flow expired
  local done = redis.call('HINCRBY', flowKey, 'done', 1)
  if to == 'SUCCESS' then redis.call('HINCRBY', flowKey, 'succeeded', 1) end
  local total = tonumber(f[2]) or 0
  if done >= total and f[1] == 'RUNNING' then
    local succeeded = tonumber(redis.call('HGET', flowKey, 'succeeded')) or 0
    local state = f[3] == '1' and 'CANCELLED' or (succeeded >= total and 'SUCCESS' or 'FAILURE')
    redis.call('HSET', flowKey, 'state', state, 'finished_at', nowStr)
    for _, key in ipairs({ flowKey, K.flowNodes(flowId), K.flowNext(flowId), K.flowFar(flowId), K.flowCounted(flowId) }) do
      redis.call('PEXPIRE', key, ttlStr)
    end
    local idem = redis.call('HGET', flowKey, 'idem')
    if idem and idem ~= '' then redis.call('PEXPIRE', K.flowIdem(idem), ttlStr) end
  end
end

-- one node of a flow finished `to`: settle its dependents in this shard, tell those in others, and
-- count it (here in its home shard, or through the outbox)
local function settleNode(flowId, id, to)
  local f = redis.call('HMGET', K.flowRecord(flowId), 'state', 'cancelled', 'spread', 'part')
  if not f[1] and not f[4] then return end -- the flow expired
  local cancelled = f[2] == '1'
  local node
  local function depNode()
    node = node or redis.call('HGET', K.job(id), 'flow_node') or id
    return node
  end
  for d in string.gmatch(redis.call('HGET', K.flowNext(flowId), id) or '', '[^,]+') do
    settleDependent(flowId, d, to, cancelled, depNode)
  end
  if f[3] == '1' then
    local far = redis.call('HGET', K.flowFar(flowId), id)
    if far then
      local outcome = outcomeOf(id)
      for d in string.gmatch(far, '[^,]+') do outbox({ 'dep', flowId, d, id, depNode(), to, outcome }) end
    end
    if redis.call('EXISTS', K.depsIn(id)) == 1 then redis.call('PEXPIRE', K.depsIn(id), ttlStr) end
    if f[4] == '1' then
      outbox({ 'count', flowId, id, to })
      if redis.call('HINCRBY', K.flowRecord(flowId), 'left', -1) <= 0 then
        for _, key in ipairs({ K.flowRecord(flowId), K.flowNodes(flowId), K.flowNext(flowId), K.flowFar(flowId) }) do
          redis.call('PEXPIRE', key, ttlStr)
        end
      end
      return
    end
  end
  countNode(flowId, to)
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

-- cancel a flow's nodes in this shard that have not finished (cancelFlow.lua; a part's by delivery)
local function cancelFlowHere(flowId)
  redis.call('HSET', K.flowRecord(flowId), 'cancelled', '1')
  for _, id in ipairs(redis.call('HVALS', K.flowNodes(flowId))) do
    local jobKey = K.job(id)
    local j = load(jobKey)
    if j and not FINAL[j.state] then cancel(id, jobKey, j) end
  end
end

-- one entry of another shard's outbox, delivered to this shard (flowDeliver.lua): OK (done, or
-- already done: a second delivery counts once) or MISSING (what it is for is not here yet: its
-- flow is still being made, or has expired)
local deliverReopen
local function deliverFlowEntry(e)
  local kind, flowId = e[1], e[2]
  if kind == 'reopen' or kind == 'uncount' then return deliverReopen(e) end
  if kind == 'dep' then
    local to, from, fromNode, state, outcome = e[3], e[4], e[5], e[6], e[7]
    if redis.call('EXISTS', K.job(to)) == 0 then return MISSING end
    if redis.call('HSETNX', K.depsIn(to), from, outcome) == 0 then return OK end
    local cancelled = redis.call('HGET', K.flowRecord(flowId), 'cancelled') == '1'
    settleDependent(flowId, to, state, cancelled, function() return fromNode end)
  elseif kind == 'count' then
    if redis.call('EXISTS', K.flowRecord(flowId)) == 0 then return MISSING end
    if redis.call('SADD', K.flowCounted(flowId), e[3]) == 0 then return OK end
    countNode(flowId, e[4])
  elseif kind == 'cancel' then
    if redis.call('EXISTS', K.flowRecord(flowId)) == 0 then return MISSING end
    cancelFlowHere(flowId)
  end
  return OK
end

-- A DEAD node retried by hand (retryDeadJob.lua) resumes its flow: the flow counts it as not
-- final again (RUNNING again if it had ended), and what its death did is undone, transitively: a
-- dependent still waiting on other deps waits for it again (deps_left back up by one), and one
-- its death failed or skipped before it ran is PENDING again, held until its deps not final now
-- have finished. Dependents in other shards are told through the outbox ('reopen').

-- the flow counts a node as not final again (its home shard; a part tells the home)
local function uncountNode(flowId, id)
  local flowKey = K.flowRecord(flowId)
  local f = redis.call('HMGET', flowKey, 'state', 'part')
  if f[2] == '1' then
    redis.call('HINCRBY', flowKey, 'left', 1)
    for _, key in ipairs({ flowKey, K.flowNodes(flowId), K.flowNext(flowId), K.flowFar(flowId) }) do redis.call('PERSIST', key) end
    outbox({ 'uncount', flowId, id })
    return
  end
  if not f[1] then return end
  redis.call('HINCRBY', flowKey, 'done', -1)
  if f[1] ~= 'RUNNING' then
    redis.call('HSET', flowKey, 'state', 'RUNNING', 'finished_at', '')
    for _, key in ipairs({ flowKey, K.flowNodes(flowId), K.flowNext(flowId), K.flowFar(flowId), K.flowCounted(flowId) }) do
      redis.call('PERSIST', key)
    end
    local idem = redis.call('HGET', flowKey, 'idem')
    if idem and idem ~= '' then redis.call('PERSIST', K.flowIdem(idem)) end
  end
end

local reopenNode

-- dep `from` of node d (in this shard) is not final again: d waits for it again
local function reopenDependent(flowId, d, from)
  local dk = K.job(d)
  local dj = load(dk)
  if not dj then return end
  if dj.state == 'PENDING' then
    if (tonumber(redis.call('HGET', dk, 'deps_left')) or 0) > 0 then redis.call('HINCRBY', dk, 'deps_left', 1) end
    return
  end
  if not DEP_FAILED[dj.state] or dj.state == 'DEAD' or dj.state == 'CANCELLED' or (tonumber(dj.attempts) or 0) > 0 then return end
  local err = redis.call('HGET', dk, 'error') or ''
  if string.sub(err, 1, 4) ~= 'dep ' then return end
  local left, policy = 0, redis.call('HGET', dk, 'on_dep_failure') or 'fail'
  for dep in string.gmatch(redis.call('HGET', dk, 'dep_ids') or '', '[^,]+') do
    local state = redis.call('HGET', K.job(dep), 'state')
    if not state then -- a dep in another shard: final once delivered
      local heard = redis.call('HGET', K.depsIn(d), dep)
      if heard then for _, o in pairs(cjson.decode('{' .. heard .. '}')) do state = o.state end end
    end
    if dep == from or not state or not FINAL[state] then
      left = left + 1
    elseif DEP_FAILED[state] and policy ~= 'continue' then
      return -- another dep that did not succeed keeps it where its policy put it
    end
  end
  setState(d, dk, dj, 'PENDING', { 'error', '', 'finished_at', '', 'deps_left', countStr(left), 'deps', '' })
  redis.call('PERSIST', dk)
  reopenNode(flowId, d)
end

-- node id of a flow is not final again: uncount it, and undo what its finish did to its dependents
reopenNode = function(flowId, id)
  uncountNode(flowId, id)
  for d in string.gmatch(redis.call('HGET', K.flowNext(flowId), id) or '', '[^,]+') do reopenDependent(flowId, d, id) end
  for d in string.gmatch(redis.call('HGET', K.flowFar(flowId), id) or '', '[^,]+') do outbox({ 'reopen', flowId, d, id }) end
end

-- the other kinds of entries deliverFlowEntry takes: a dep not final again, a node not final again
deliverReopen = function(e)
  local kind, flowId = e[1], e[2]
  if kind == 'reopen' then
    if redis.call('EXISTS', K.job(e[3])) == 0 then return MISSING end
    if redis.call('HDEL', K.depsIn(e[3]), e[4]) == 0 then return OK end
    reopenDependent(flowId, e[3], e[4])
  elseif kind == 'uncount' then
    if redis.call('EXISTS', K.flowRecord(flowId)) == 0 then return MISSING end
    if redis.call('SREM', K.flowCounted(flowId), e[3]) == 0 then return OK end
    uncountNode(flowId, e[3])
  end
  return OK
end

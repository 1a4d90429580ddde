-- lib-state.lua (after lib-lake.lua): flush() of what a script gathered, and the moves every
-- transition shares: load, setState and finish (checked against TRANSITIONS), leases, the
-- queue's lists, a prime count's chunks, cancel, the holder's token, reclaim and release.

-- Groups (docs/flow-control.md "How fairness works"): a job with a group waits in its group's
-- zset of its kind (K.groupWait), scored priority * GROUP_SPAN + a sequence (minus it at the
-- head), so ZPOPMIN gives the queue's order inside the group: the most urgent, then the oldest.
-- The queue's ring (K.groups, a list) names each group of that kind with waiting jobs once.
local GROUP_SPAN = 100000000000000
local function pushGrouped(id, queue, p, cpu, group, head)
  local seq = redis.call('INCR', K.groupSeq(queue))
  local key = K.groupWait(queue, cpu, group)
  redis.call('ZADD', key, (tonumber(p) or 5) * GROUP_SPAN + (head and -seq or seq), id)
  if redis.call('ZCARD', key) == 1 then redis.call('RPUSH', K.groups(queue, cpu), group) end
end

-- held jobs of a queue stopped being held (flush): a grouped one's slot in its group's running
-- count frees, and with limits set a waiting consumer wakes to take the slot. A queue with
-- neither pays one EXISTS.
local function freeSlots(queue, ids)
  local heldKey, flowKey = K.groupHeld(queue), K.flow(queue)
  if redis.call('EXISTS', heldKey, flowKey) == 0 then return end
  for from = 1, #ids, 1000 do
    local slice = { unpack(ids, from, math.min(from + 999, #ids)) }
    for i, g in ipairs(redis.call('HMGET', heldKey, unpack(slice))) do
      if g then
        redis.call('HDEL', heldKey, slice[i])
        if redis.call('HINCRBY', K.groupRunning(queue), g, -1) <= 0 then redis.call('HDEL', K.groupRunning(queue), g) end
      end
    end
  end
  if redis.call('EXISTS', flowKey) == 1 then
    redis.call('ZADD', K.marker(queue), '0', 'm')
    redis.call('ZADD', K.cpuMarker(queue), '0', 'm')
  end
end

-- The all-jobs index (K.jobs, id -> created_at) holds every top-level job but, on a prefix at
-- format 3, the queued ones waiting in a plain wait list (enqueueRows): src/store/redis/reads.ts
-- lists those from the queues, as it lists every queued PENDING and STARTED job. A queued job
-- that leaves PENDING or STARTED for an indexed state enters it here (under its created_at: the
-- caller's, indexMove, else read); one that goes back (a retry claimed, a job retried by hand, a
-- released PROGRESS) keeps its entry, as a job enqueued at format 2 or by a role that has not yet
-- seen format 3 does: the reader lists each id once and counts by the counters, and the entry
-- leaves with the job (cleanJobs, purgeDeadJobs, reapExpiredLeases's expiry).
local function flush()
  -- indexMove's fast path first: a later move in this call of a job it took is written after it
  for state, pairs_ in pairs(fastAdded) do variadic('ZADD', K.state(state), pairs_) end
  variadic('ZADD', K.jobs, fastIndexed)
  local removed, added, counted, indexed = {}, {}, fastCounted, {}
  for i = 1, #moveOrder do
    local id = moveOrder[i]
    local from, to, queued = moveFrom[id], moveTo[id], moveQueued[id]
    if from ~= to then
      if from and queued and COUNTED_NOT_INDEXED[from] then
        counted[from] = (counted[from] or 0) - 1
        if not COUNTED_NOT_INDEXED[to] then
          local created = queued ~= true and queued or redis.call('HGET', K.job(id), 'created_at')
          if created then
            indexed[#indexed + 1] = created
            indexed[#indexed + 1] = id
          end
        end
      elseif from then
        local r = listFor(removed, from)
        r[#r + 1] = id
      end
      if queued and COUNTED_NOT_INDEXED[to] then
        counted[to] = (counted[to] or 0) + 1
      else
        local a = listFor(added, to)
        a[#a + 1] = nowStr
        a[#a + 1] = id
      end
    end
  end
  for state, n in pairs(counted) do
    if n ~= 0 then redis.call('HINCRBY', K.counts, state, n) end
  end
  for state, ids in pairs(removed) do variadic('ZREM', K.state(state), ids) end
  for state, pairs_ in pairs(added) do variadic('ZADD', K.state(state), pairs_) end
  variadic('ZADD', K.jobs, indexed)
  for queue, ids in pairs(unleased) do
    variadic('ZREM', K.active(queue), ids)
    freeSlots(queue, ids)
  end
  for queue, pairs_ in pairs(leases) do variadic('ZADD', K.active(queue), pairs_) end
  for i = 1, #events, 2000 do
    redis.call('XADD', K.events, 'MAXLEN', '~', 100000, '*', unpack(events, i, math.min(i + 1999, #events)))
  end
  flushLake()
end

-- the fields transitions read, in one call, as a table made whole at once (a table that grows
-- field by field is rehashed as it goes); nil when the job does not exist (or the key holds no
-- job's record: isJobState). The hot paths read only what they need instead (claimFrom, completeJob).
local function load(jobKey)
  if not jobKey then return nil end
  local v = readLoad(jobKey)
  local state = stateOf(v[LOAD.state], v[LOAD.created_at])
  if not isJobState(state) then return nil end
  return { state = state, queue = v[LOAD.queue] or OMITTED_QUEUE, parent_id = v[LOAD.parent_id] or '', total = v[LOAD.total] or '',
    completed = v[LOAD.completed] or '', token = v[LOAD.token] or '', attempts = v[LOAD.attempts] or '',
    max_attempts = v[LOAD.max_attempts] or OMITTED_MAX_ATTEMPTS, chunk_index = v[LOAD.chunk_index] or '', created_at = v[LOAD.created_at] or '',
    handled_by = v[LOAD.handled_by] or '', priority = v[LOAD.priority] or '', idem_key = v[LOAD.idem_key] or '',
    cpu = v[LOAD.cpu] or '', group = v[LOAD.group] or '', flow_id = v[LOAD.flow_id] }
end

-- what follows a state change written to the record (setState, finish): the index move and the
-- event, gathered for flush(); j (the job as load() read it) is in its new state after
local function noteStateChange(id, j, to, result)
  if j.parent_id == '' then indexMove(id, j.state, to, j.queue ~= '', j.created_at) end
  emit(id, to, j.completed, j.total, result)
  j.state = to
end

-- a move TRANSITIONS does not list is a bug: the script fails before it writes anything of it
local function transition(j, to)
  local allowed = TRANSITIONS[j.state]
  if not (allowed and allowed[to]) then error('wizard: no transition ' .. tostring(j.state) .. ' -> ' .. to) end
end

-- move a job to a new state in one write: the record (with `extra` field/value pairs), then
-- noteStateChange
local function setState(id, jobKey, j, to, extra)
  transition(j, to)
  local args = { 'HSET', jobKey, 'state', to, 'updated_at', nowStr }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  redis.call(unpack(args))
  noteStateChange(id, j, to)
end

-- hold a job under a lease / stop holding it (gathered for flush())
local function lease(queue, id, untilMs)
  local l = listFor(leases, queue)
  l[#l + 1] = untilMs
  l[#l + 1] = id
end
local function unlease(queue, id)
  local l = listFor(unleased, queue)
  l[#l + 1] = id
end

-- A job's kind: `cpu` is its record's field. '1' is a CPU job (a prime chunk, a module's cpu
-- type), which waits in its queue's CPU lists: a worker takes from them only for its free pool
-- threads (claimFrom). Anything else ('', nil, false: every job written before CPU lists) is an
-- ordinary job. Each kind has its wait list per priority, its ready set and its marker.
local function waitListOf(queue, p, cpu)
  if cpu == '1' then return K.cpuWaitAt(queue, p) end
  return K.waitAt(queue, p)
end
local function markerOf(queue, cpu)
  if cpu == '1' then return K.cpuMarker(queue) end
  return K.marker(queue)
end

-- a job of priority p ('' is the default) is ready: its queue's claims look at that wait list
-- (K.ready, K.cpuReady list the priorities other than the default whose lists may hold jobs)
local function markReady(queue, p, cpu)
  if p ~= '' and p ~= DEFAULT_PRIORITY then redis.call('ZADD', cpu == '1' and K.cpuReady(queue) or K.ready(queue), p, p) end
end

-- put a job at the head of its queue (of its kind's list of its priority: next to be claimed)
-- and wake a consumer
local function requeueAtHead(id, queue, p, cpu, group)
  if group and group ~= '' then
    pushGrouped(id, queue, p or '', cpu, group, true)
  else
    redis.call('RPUSH', waitListOf(queue, p or '', cpu), id)
    markReady(queue, p or '', cpu)
  end
  redis.call('ZADD', markerOf(queue, cpu), '0', 'm')
end

-- a job leaves its queue before it ran (cancelled, or its parent ended): out of its wait list
-- and the delayed set
local function unqueue(id, j)
  if j.group ~= '' then -- a group left with no job leaves the ring
    local key = K.groupWait(j.queue, j.cpu, j.group)
    redis.call('ZREM', key, id)
    if redis.call('ZCARD', key) == 0 then redis.call('LREM', K.groups(j.queue, j.cpu), 0, j.group) end
  else
    redis.call('LREM', waitListOf(j.queue, j.priority, j.cpu), 0, id)
  end
  redis.call('ZREM', K.delayed(j.queue), id)
end

-- fields that end a hold: the token is cleared ('' means not held)
local function released(extra)
  local out = { 'token', '' }
  for _, v in ipairs(extra or {}) do out[#out + 1] = v end
  return out
end

-- an attempt's outcome that the record's own fields are about to forget (a retry's, or a finished
-- job's retried by hand), with the record's attempts_log: answers the log with it appended (a JSON
-- list of [attempt, state, error, handled_by, at], arrays: their JSON has one order) for the caller
-- to write in its own HSET. src/store/codec.ts logAttempt is the memory adapter's twin; decodeJob reads it.
local function logAttempt(jobKey, j, state, err)
  local entry = cjson.encode({ tonumber(j.attempts) or 0, state, err, j.handled_by ~= '' and j.handled_by or cjson.null, now })
  local log = redis.call('HGET', jobKey, 'attempts_log')
  if log and string.sub(log, -1) == ']' and #log > 2 then return string.sub(log, 1, -2) .. ',' .. entry .. ']' end
  return '[' .. entry .. ']'
end

-- the job reaches SUCCESS, FAILURE or DEAD with its result or error (`field`: 'result' or
-- 'error') in one write, stops being held, and expires or, DEAD, waits in the dead-letter queue;
-- the datalake records it in this same step (flush)
-- a flow's node finished: its dependents learn it (lib-flow.lua sets it; lib-state.lua's finish calls it)
local flowNodeFinished

local function finish(id, jobKey, j, to, field, value, entry, startedAt)
  transition(j, to)
  if leanMoves then
    redis.call('HSET', jobKey, 'state', to, 'token', '', field, value, 'finished_at', nowStr)
  else
    redis.call('HSET', jobKey, 'state', to, 'updated_at', nowStr, 'token', '', field, value, 'finished_at', nowStr)
  end
  -- a small result rides in the SUCCESS event (emit)
  noteStateChange(id, j, to, to == 'SUCCESS' and #value <= eventResultMax and value or nil)
  if j.queue ~= '' then unlease(j.queue, id) end
  if to == 'DEAD' then
    redis.call('ZADD', K.dlq, now, id)
  else
    redis.call('PEXPIRE', jobKey, ttlStr)
    -- the idempotency key lives as long as the job's record
    if j.idem_key and j.idem_key ~= '' then redis.call('PEXPIRE', K.idem(j.idem_key), ttlStr) end
    if j.total ~= '' then
      redis.call('PEXPIRE', K.children(id), ttlStr)
      redis.call('PEXPIRE', K.chunkResults(id), ttlStr)
    end
  end
  appendToLake(id, jobKey, j, to, field, value, entry, startedAt)
  if j.flow_id then flowNodeFinished(j.flow_id, id, to) end
end

-- a parent ended (failed, cancelled): its unfinished chunks, waiting or held, end `to` with
-- `reason`: a held one is released from its lease and its token cleared, so its holder's
-- renewal, completion or failure is refused (never retried, never DEAD)
local function endChunks(parentId, to, reason)
  for _, chunk in ipairs(redis.call('LRANGE', K.children(parentId), 0, -1)) do
    local chunkKey = K.job(chunk)
    local c = load(chunkKey)
    if c and not FINAL[c.state] then
      if RUNNABLE[c.state] then unqueue(chunk, c) end
      finish(chunk, chunkKey, c, to, 'error', reason)
    end
  end
end

-- a chunk failed for good: fail its parent at once with the reason and cancel its other
-- unfinished chunks (endChunks)
local function failParent(child, reason)
  if child.parent_id == '' then return end
  local parentId = child.parent_id
  local parentKey = K.job(parentId)
  local parent = load(parentKey)
  if not parent or FINAL[parent.state] then return end
  finish(parentId, parentKey, parent, 'FAILURE', 'error', 'chunk ' .. child.chunk_index .. ' failed: ' .. reason)
  endChunks(parentId, 'FAILURE', 'cancelled: parent job ' .. parentId .. ' failed')
end

-- cancel a job that has not finished (cancelJob.lua): a waiting or delayed one leaves its queue
-- and never runs; a held one is released (its holder learns it: CANCELLED); a prime count's
-- unfinished chunks are cancelled with it
local function cancel(id, jobKey, j)
  if RUNNABLE[j.state] and j.queue ~= '' then unqueue(id, j) end
  finish(id, jobKey, j, 'CANCELLED', 'error', 'cancelled')
  if j.total ~= '' then endChunks(id, 'CANCELLED', 'cancelled: parent job ' .. id .. ' was cancelled') end
end

-- the job `token` holds, as load() reads it; or nil and a code
local function holder(id, token)
  local jobKey = jobKeyFor(id)
  local j = load(jobKey)
  if not j then return nil, MISSING end
  if j.token == '' or j.token ~= token then return nil, j.state == 'CANCELLED' and CANCELLED or TOKEN_MISMATCH end
  return jobKey, j
end

-- take a held job back from a holder that is gone (its lease lapsed, its bot is down): to the head
-- of its queue as RETRY, or DEAD when it has used every attempt (failing its parent)
local function reclaim(id, jobKey, j, why)
  local reason = why .. ' (held by ' .. j.handled_by .. ', attempt ' .. j.attempts .. ' of ' .. j.max_attempts .. ')'
  if (tonumber(j.attempts) or 0) >= (tonumber(j.max_attempts) or 1) then
    finish(id, jobKey, j, 'DEAD', 'error', reason)
    failParent(j, reason)
    return 'DEAD'
  end
  setState(id, jobKey, j, 'RETRY', released({ 'error', reason, 'run_at', now,
    'attempts_log', logAttempt(jobKey, j, 'RETRY', reason) }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue, j.priority, j.cpu, j.group)
  return 'RETRY'
end

-- The gap rule (README "Reliability", "A Redis cut off from everyone"): what lapsed while no
-- reaper could look is not taken back before its holder had the chance to renew it. `reaperKey` (a
-- hash) keeps when a reaper last looked (`at`, Redis's time: the one clock). A look more than half
-- of `graceMs` (a lease, a bot's silence) after the one before means nobody could look between:
-- Redis was cut off, stopped, paused or out of memory, for the holders too, so their renewals could
-- not land either. What lapsed since that last look (`gap_from`) then gets `graceMs` more (until
-- `grace_until`) to be renewed; what lapsed before it is taken back as usual, and a look that keeps
-- pace (or the first one) changes nothing. Answers the deadline up to which lapsed holds may be taken back now.
local function reapableUpTo(reaperKey, graceMs)
  local at, gapFrom, graceUntil = unpack(redis.call('HMGET', reaperKey, 'at', 'gap_from', 'grace_until'))
  local atMs = tonumber(at) -- every stored time read with tonumber is checked before arithmetic
  if atMs and now - atMs > graceMs / 2 then
    gapFrom, graceUntil = at, string.format('%d', now + graceMs)
    redis.call('HSET', reaperKey, 'at', nowStr, 'gap_from', gapFrom, 'grace_until', graceUntil)
  else
    redis.call('HSET', reaperKey, 'at', nowStr)
  end
  local untilMs = tonumber(graceUntil)
  if untilMs and now < untilMs then return tonumber(gapFrom) or now end
  return now
end

-- give a held job back to the head of its queue (its holder is stopping); the attempt does not count
local function releaseHeld(id, jobKey, j)
  setState(id, jobKey, j, 'PENDING', released({ 'attempts', math.max(0, (tonumber(j.attempts) or 1) - 1), 'handled_by', '' }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue, j.priority, j.cpu, j.group)
end

-- lib-queue.lua (after lib-state.lua): a job's path through its queue, the hot paths: enqueueRows,
-- claimFrom, completeJob, failJob.

-- create jobs from rows of ARGV from index `from`: ARGV[from] is the rows' size, ROW_SIZE (the
-- layout ROW of src/store/wire.ts) or PLAIN_ROW_SIZE (ROW's first fields only: a batch whose
-- jobs have no options, the common case, sends nothing for them), then the rows. Put the queued
-- ones at the tail of their queue (of their kind's wait list of their priority: a row with cpu
-- '1' goes to the CPU lists), or, delayed, in its delayed set (enqueueJobs.lua, enqueueBatch.lua). Answers the number created. Only fields with a value are written, and not
-- what a reader knows without them (src/store/codec.ts decodeJob): the id (it is in the key),
-- attempts 0, updated_at = created_at, priority 5, and at format 3 a lean record's state PENDING
-- (lib.lua's stateOf). state comes first where written: most reads look it up first.
-- OPTIONAL_FIELDS (generated): the fields written only when they have a value, name and position in ROW.
-- On a prefix at format 3 `queue` and `max_attempts` are left out too when they hold the values
-- every reader takes a missing one for (OMITTED_QUEUE, OMITTED_MAX_ATTEMPTS: wire.ts's OMITTED);
-- below it the size comes negated and every record is written whole, as the previous release
-- reads it (rowsSize).
local function enqueueRows(from)
  local waiting = {}   -- wait list key -> {queue, priority, cpu, ids}, pushed with one LPUSH each
  local created = {}   -- now, id, ... for the index of all top-level jobs
  local delayedQueues = {}
  local count = 0
  local size, whole = rowsSize(ARGV[from])
  local plain = size == PLAIN_ROW_SIZE
  for at = from, #ARGV - 1, size do -- a row's fields are ARGV[at + ROW.<field>]
    local id, queue, initiatedBy = ARGV[at + ROW.id], ARGV[at + ROW.queue], ARGV[at + ROW.initiated_by]
    local jobType, params, maxAttempts = ARGV[at + ROW.type], ARGV[at + ROW.params], ARGV[at + ROW.max_attempts]
    local parentId, total, priority, delay, cpu, group, held = '', '', '', '', '', '', false
    if not plain then
      parentId, total, priority, delay = ARGV[at + ROW.parent_id], ARGV[at + ROW.total], ARGV[at + ROW.priority], ARGV[at + ROW.delay_ms]
      cpu, group = ARGV[at + ROW.cpu], ARGV[at + ROW.group]
      held = ARGV[at + ROW.deps_left] ~= '' -- a flow's node with deps: out of its queue until they finish (lib-flow.lua)
    end
    local jobKey = K.job(id)
    local runAt
    count = count + 1
    local lean = not whole and queue == OMITTED_QUEUE and maxAttempts == OMITTED_MAX_ATTEMPTS
    if (whole or lean) and (plain or (parentId == '' and total == '' and priority == '' and delay == '' and ARGV[at + ROW.timeout_ms] == ''
        and ARGV[at + ROW.idem_key] == '' and cpu == '' and ARGV[at + ROW.principal] == '' and group == ''
        and ARGV[at + ROW.flow_id] == ''
        and ARGV[at + ROW.trace] == '')) then
      -- a job of its own (a task, a bot job) with no options: one write with a fixed shape; at
      -- format 3 without `state`, which every reader takes for PENDING when created_at is there
      -- (lib.lua's stateOf): 16 bytes a waiting job (docs/benchmarks.md)
      if lean then
        if initiatedBy == '' then
          redis.call('HSET', jobKey, 'type', jobType, 'params', params, 'created_at', nowStr)
        else
          redis.call('HSET', jobKey, 'type', jobType, 'params', params, 'created_at', nowStr, 'initiated_by', initiatedBy)
        end
      elseif initiatedBy == '' then
        redis.call('HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'queue', queue, 'params', params,
          'max_attempts', maxAttempts, 'created_at', nowStr)
      else
        redis.call('HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'queue', queue, 'params', params,
          'max_attempts', maxAttempts, 'created_at', nowStr, 'initiated_by', initiatedBy)
      end
    else
      local fields = { 'HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'params', params, 'created_at', nowStr }
      if whole or queue ~= OMITTED_QUEUE then
        fields[#fields + 1] = 'queue'
        fields[#fields + 1] = queue
      end
      if whole or maxAttempts ~= OMITTED_MAX_ATTEMPTS then
        fields[#fields + 1] = 'max_attempts'
        fields[#fields + 1] = maxAttempts
      end
      for i = 1, #OPTIONAL_FIELDS, 2 do
        local pos = OPTIONAL_FIELDS[i + 1]
        local value = pos <= size and ARGV[at + pos] or '' -- a plain row ends before the options
        if value ~= '' then
          fields[#fields + 1] = OPTIONAL_FIELDS[i]
          fields[#fields + 1] = value
        end
      end
      if total ~= '' then
        fields[#fields + 1] = 'completed'
        fields[#fields + 1] = '0'
      end
      local delayMs = delay ~= '' and argNumber(delay, 'delay_ms') or 0
      if delayMs > 0 then
        runAt = now + delayMs
        fields[#fields + 1] = 'run_at'
        fields[#fields + 1] = string.format('%d', runAt)
      end
      redis.call(unpack(fields))
    end
    if parentId == '' then
      -- the all-jobs index: at format 3 not for a job in a plain wait list, which the listing
      -- finds there (flush() says where else the entry is written); a held flow node, a delayed
      -- or grouped job, or one on no queue has its entry from the start
      if whole or queue == '' or held or runAt or group ~= '' then
        created[#created + 1] = nowStr
        created[#created + 1] = id
      end
      indexMove(id, false, 'PENDING', queue ~= '')
    else
      redis.call('RPUSH', K.children(parentId), id)
    end
    if queue ~= '' and not held then
      if runAt then
        redis.call('ZADD', K.delayed(queue), runAt, id)
        delayedQueues[queue] = true
      elseif group ~= '' then
        pushGrouped(id, queue, priority, cpu, group, false)
        if cpu == '1' then redis.call('ZADD', K.cpuMarker(queue), '0', 'm') end
        delayedQueues[queue] = true
      else
        local listKey = waitListOf(queue, priority, cpu)
        local w = waiting[listKey]
        if not w then w = { queue = queue, priority = priority, cpu = cpu, ids = {} }; waiting[listKey] = w end
        w.ids[#w.ids + 1] = id
      end
    end
    -- no event: a job's creation is no change anyone can watch (a watcher subscribes to a job it
    -- knows, so after it exists, and reads its state then), and the event, a third of a waiting
    -- job's bytes until the log is trimmed, went (docs/benchmarks.md)
  end
  if #created > 0 then variadic('ZADD', K.jobs, created) end
  for listKey, w in pairs(waiting) do
    variadic('LPUSH', listKey, w.ids)
    markReady(w.queue, w.priority, w.cpu)
    if w.cpu == '1' then -- a consumer with a free pool thread wakes
      redis.call('ZADD', K.cpuMarker(w.queue), '0', 'm')
      redis.call('SADD', K.queues, w.queue)
    else
      delayedQueues[w.queue] = true
    end
  end
  -- a consumer wakes for new work, or to learn a nearer due time
  for queue in pairs(delayedQueues) do
    redis.call('ZADD', K.marker(queue), '0', 'm')
    redis.call('SADD', K.queues, queue)
  end
  return count
end

-- the lists of one kind of a queue to take from, most urgent first: the priorities its ready set
-- names (those other than the default that may hold jobs), the default list (waitKey) among them;
-- with none, the default list alone, as before priorities
local function urgentLists(waitKey, ready)
  if #ready == 0 then return { waitKey } end
  local lists, placed = {}, false
  for _, p in ipairs(ready) do
    if not placed and (tonumber(p) or 5) > 5 then lists[#lists + 1] = waitKey; placed = true end
    lists[#lists + 1] = p
  end
  if not placed then lists[#lists + 1] = waitKey end
  return lists
end

-- whether this call's claim answers each job's trace (claimFrom's withTrace; false when a call starts, beginCall)
local claimTrace = false

-- claim one waiting job (taken from its list or its group's zset) whose priority is `priority`,
-- unless it is no longer runnable (cancelled or expired while waiting): its claim values go to
-- `out`, its token numbered n + 1. Answers the new n and whether it was claimed.
local function claimOne(queue, id, priority, consumer, n, leaseUntil, tokenBase, out)
  local jobKey = K.job(id)
  -- v becomes the claim values in place: the state, read where the id goes, is replaced by
  -- it, then a flow node's deps (read for a flow node's id only: isFlowNode), the trace, group and
  -- flow (read only when the claim asks: claimTrace), the priority (the list's:
  -- not read) and the token are added. Every field a job lacks costs HMGET a scan of the record,
  -- so only timeout_ms is asked for beyond what was asked before (the trace in it cost the claim
  -- 2% of its instructions in bench:lua's callgrind count).
  local v = readClaim(jobKey)
  local state, parentId = stateOf(v[CLAIM.id], v[CLAIM.type]), v[CLAIM.parent_id]
  if state and RUNNABLE[state] then
    n = n + 1
    local token = tokenBase .. '.' .. countStr(n)
    local attempts = countStr((tonumber(v[CLAIM.attempts]) or 0) + 1)
    if state == 'RETRY' then -- the only state with a run_at here (a delayed job's is cleared when it is due)
      redis.call('HSET', jobKey, 'state', 'STARTED', 'updated_at', nowStr, 'attempts', attempts, 'token', token,
        'handled_by', consumer, 'started_at', nowStr, 'run_at', '')
    elseif leanMoves then -- format 3: no updated_at (lib.lua's leanMoves)
      redis.call('HSET', jobKey, 'state', 'STARTED', 'attempts', attempts, 'token', token, 'handled_by', consumer,
        'started_at', nowStr)
    else
      redis.call('HSET', jobKey, 'state', 'STARTED', 'updated_at', nowStr, 'attempts', attempts, 'token', token,
        'handled_by', consumer, 'started_at', nowStr)
    end
    emit(id, 'STARTED')
    lease(queue, id, leaseUntil)
    if parentId and parentId ~= '' then
      local parentKey = K.job(parentId)
      local parent = load(parentKey)
      if parent and parent.state == 'PENDING' then
        setState(parentId, parentKey, parent, 'STARTED', { 'started_at', nowStr })
      end
    else
      indexMove(id, state, 'STARTED', true)
    end
    v[CLAIM.deps] = isFlowNode(id) and redis.call('HGET', jobKey, 'deps') or false
    if claimTrace then
      local t = redis.call('HMGET', jobKey, 'trace', 'group', 'flow_id')
      v[CLAIM.trace], v[CLAIM.group], v[CLAIM.flow_id] = t[1], t[2], t[3]
    else
      v[CLAIM.trace], v[CLAIM.group], v[CLAIM.flow_id] = false, false, false
    end
    v[CLAIM.id], v[CLAIM.attempts], v[CLAIM.priority], v[CLAIM.token] = id, attempts, priority, token
    out[#out + 1] = v
    return n, true
  end
  return n, false
end

-- take up to `max` jobs from one kind of a queue's lists (cpu '1': the CPU lists, '': the ordinary ones),
-- whose ready set reads `ready`, and hold them under a lease: their claim values go to `out`,
-- their tokens numbered on from n (claimFrom). Answers the new n and how many those lists gave.
local function takeFrom(queue, cpu, ready, consumer, max, n, leaseUntil, tokenBase, out)
  local waitKey, readyKey = waitListOf(queue, '', cpu), cpu == '1' and K.cpuReady(queue) or K.ready(queue)
  local taken = 0
  for _, list in ipairs(urgentLists(waitKey, ready)) do
    local listKey = list == waitKey and waitKey or waitListOf(queue, list, cpu)
    while taken < max do
      local ids = redis.call('RPOP', listKey, max - taken)
      if not ids then break end
      for _, id in ipairs(ids) do
        local claimed
        n, claimed = claimOne(queue, id, list == waitKey and DEFAULT_PRIORITY or list, consumer, n, leaseUntil, tokenBase, out)
        if claimed then taken = taken + 1 end
      end
    end
    -- a priority's list emptied leaves the ready set now: what it says orders claims across shards
    if list ~= waitKey and redis.call('LLEN', listKey) == 0 then redis.call('ZREM', readyKey, list) end
    if taken >= max then break end
  end
  return n, taken
end

-- Rate limits (docs/flow-control.md "Rate limits"): a rate is 'max:per_ms' in K.flow; its window
-- is a sliding log, a zset of the start times (member: the claim's token) of the last per_ms.
local function rateOf(s)
  if not s then return nil end
  local m, p = string.match(s, '^(%d+):(%d+)$')
  if not m then return nil end
  return tonumber(m), tonumber(p)
end

-- how many more jobs may start now under a rate (its log `key`, trimmed to the window), and, when
-- none may, when one may again: the (count - max + 1)th oldest start leaves the window then
local function rateRoom(key, max, per)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local count = redis.call('ZCARD', key)
  if count < max then return max - count, nil end
  local at = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
  return 0, (tonumber(at[2]) or now) + per
end

-- jobs started: their tokens go into the rate's log at now; the log lives a minute past its
-- window (each read trims it to the window: the margin only outlasts a clock that is not Redis's)
local function rateTake(key, per, members)
  if #members == 0 then return end
  local args = {}
  for _, m in ipairs(members) do args[#args + 1] = nowStr; args[#args + 1] = m end
  variadic('ZADD', key, args)
  redis.call('PEXPIRE', key, per + 60000)
end

-- a handler met the limit of what it calls (rate_limited): its group (field 'hold:<group>') or its
-- queue ('hold') starts nothing for ms (releaseJob.lua, holdQueue.lua); a later, longer hold wins
local function holdFlow(queue, field, ms)
  local untilMs = now + ms
  local cur = tonumber(redis.call('HGET', K.flow(queue), field))
  if not cur or cur < untilMs then redis.call('HSET', K.flow(queue), 'v', '1', field, string.format('%d', untilMs)) end
end

-- give a held job back (releaseHeld: its attempt not counted) and hold its group, or its queue when
-- it has none, for ms (releaseJob.lua, failBotJob.lua's HOLD): its handler met the limit of what it
-- calls. Answers the code, and the job as holder() loaded it.
local function releaseHolding(id, token, ms)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  releaseHeld(id, jobKey, j)
  if j.queue ~= '' then holdFlow(j.queue, j.group ~= '' and ('hold:' .. j.group) or 'hold', ms) end
  return OK, j
end

-- a hold that is over leaves K.flow (and K.flow with it when nothing else is left in it)
local function dropHold(queue, field)
  redis.call('HDEL', K.flow(queue), field)
  if redis.call('HLEN', K.flow(queue)) <= 1 then redis.call('DEL', K.flow(queue)) end
end

-- a claim's wake-up: the earliest time something held back by a rate or a hold may start
local function wakeAt(lim, at)
  if at and (not lim.wake or at < lim.wake) then lim.wake = at end
end

-- one pass over a kind's ring of groups (K.groups): each group with work in turn gives its most
-- urgent, oldest job, up to `max` in all, but not a group at its limit (lim: the queue's limits as
-- claimFrom read them, or nil). A group whose zset empties leaves the ring. Answers the new n and
-- how many the groups gave.
local function takeGroups(queue, cpu, consumer, max, n, leaseUntil, tokenBase, out, lim)
  local ringKey, runningKey = K.groups(queue, cpu), K.groupRunning(queue)
  local len = redis.call('LLEN', ringKey)
  local taken = 0
  for _ = 1, len do
    if taken >= max then break end
    local g = redis.call('LMOVE', ringKey, ringKey, 'LEFT', 'RIGHT') -- to the tail: its turn is taken
    if not g then break end
    local limit, rateMax, ratePer, held = nil, nil, nil, false
    if lim then
      local own = redis.call('HMGET', K.flow(queue), 'g:' .. g, 'gr:' .. g, 'hold:' .. g)
      limit = tonumber(own[1]) or lim.group
      rateMax, ratePer = rateOf(own[2] or lim.grate)
      local hold = tonumber(own[3])
      if limit and (tonumber(redis.call('HGET', runningKey, g)) or 0) >= limit then
        lim.held, held = lim.held + 1, true
      elseif hold and hold > now then
        lim.rateHeld, held = lim.rateHeld + 1, true
        wakeAt(lim, hold)
      else
        if hold then dropHold(queue, 'hold:' .. g) end
        if rateMax then
          local room, at = rateRoom(K.groupRateLog(queue, g), rateMax, ratePer)
          if room <= 0 then
            lim.rateHeld, held = lim.rateHeld + 1, true
            wakeAt(lim, at)
          end
        end
      end
    end
    if not held then
      local key = K.groupWait(queue, cpu, g)
      local popped = redis.call('ZPOPMIN', key)
      if popped[1] == nil or redis.call('ZCARD', key) == 0 then redis.call('RPOP', ringKey) end
      if popped[1] then
        local claimed
        n, claimed = claimOne(queue, popped[1], string.format('%d', math.floor(tonumber(popped[2]) / GROUP_SPAN + 0.5)),
          consumer, n, leaseUntil, tokenBase, out)
        if claimed then
          taken = taken + 1
          redis.call('HINCRBY', runningKey, g, 1)
          redis.call('HSET', K.groupHeld(queue), popped[1], g)
          if rateMax then rateTake(K.groupRateLog(queue, g), ratePer, { tokenBase .. '.' .. countStr(n) }) end
        end
      end
    end
  end
  return n, taken
end

-- take up to `max` jobs of one kind (takeFrom's arguments): with no group of that kind waiting,
-- takeFrom alone (a queue without groups pays one LLEN); else in rounds, each one job of the
-- ungrouped lists (they take their turn as one group) and one of each group (takeGroups)
local function takeKind(queue, cpu, ready, consumer, max, n, leaseUntil, tokenBase, out, lim)
  if max <= 0 or redis.call('LLEN', K.groups(queue, cpu)) == 0 then
    return takeFrom(queue, cpu, ready, consumer, max, n, leaseUntil, tokenBase, out)
  end
  local taken, plain = 0, true
  while taken < max do
    local t1, t2 = 0, 0
    if plain then
      n, t1 = takeFrom(queue, cpu, ready, consumer, 1, n, leaseUntil, tokenBase, out)
      plain = t1 > 0
    end
    n, t2 = takeGroups(queue, cpu, consumer, max - taken - t1, n, leaseUntil, tokenBase, out, lim)
    taken = taken + t1 + t2
    if t1 + t2 == 0 then break end
  end
  return n, taken
end

-- take up to `max` ordinary jobs and up to `maxCpu` CPU jobs (the CPU lists': waitListOf) from
-- the head of a queue and hold them under a lease (claimJobs.lua, claimJobForBot.lua). maxCpu -1:
-- CPU jobs count in max, taken after the ordinary ones (a bot's claim, a caller that runs every
-- job alike). Answers {now, nextRunAt or '', the number of CPU jobs, {claim values}, ...}: the time
-- of the claim (the jobs' started_at: the client knows no other), when the next delayed job is
-- due, and the ordinary jobs' claim values, then the CPU jobs'. A job's claim values are what its
-- consumer cannot know, the layout CLAIM of src/store/wire.ts (a field the job does not have is
-- false: null to the client).
-- Priorities: within each kind, the most urgent non-empty wait list first (urgentLists). A paused
-- queue (the member 'paused' in K.ready, score -1: it sorts first) gives nothing.
-- Groups and limits (docs/flow-control.md): takeKind's rounds; the queue's limit (K.flow's
-- concurrency: this shard's share of it) caps max and maxCpu by its lease set's size, a group at
-- its limit is passed over; a claim held back counts in K.heldBack, and sets no marker for what
-- it left (a freed slot wakes a consumer: freeSlots).
local function claimFrom(queue, consumer, max, maxCpu, leaseMs, tokenBase, withTrace, reserved)
  claimTrace = withTrace == true
  local waitKey, delayedKey, readyKey = K.wait(queue), K.delayed(queue), K.ready(queue)
  local leaseUntil = string.format('%d', now + leaseMs)
  local ready = redis.call('ZRANGE', readyKey, 0, -1)
  local out = { nowStr, '', 0 }
  if ready[1] == 'paused' then return out end

  -- the head is the right end: push the latest-due first, so the earliest-due is claimed first
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
  local cpuDue = false
  if #due > 0 then
    variadic('ZREM', delayedKey, due)
    local urgent = false
    for i = #due, 1, -1 do
      local p, state, cpu, group = unpack(redis.call('HMGET', K.job(due[i]), 'priority', 'state', 'cpu', 'group'))
      p = p or ''
      -- a delayed job is due: no run_at any more (a retry keeps its until it is claimed)
      if state == 'PENDING' then redis.call('HSET', K.job(due[i]), 'run_at', '') end
      if group then
        pushGrouped(due[i], queue, p, cpu, group, true)
        if cpu == '1' then cpuDue = true end
      else
        redis.call('RPUSH', waitListOf(queue, p, cpu), due[i])
      end
      if group then -- in its group's zset: neither ready set names it
      elseif cpu == '1' then
        cpuDue = true
        markReady(queue, p, cpu)
      elseif p ~= '' and p ~= DEFAULT_PRIORITY then
        redis.call('ZADD', readyKey, p, p)
        urgent = true
      end
    end
    if urgent then ready = redis.call('ZRANGE', readyKey, 0, -1) end
  end

  local lim, capped, rateMax, ratePer, rateBound = nil, false, nil, nil, false
  local flow = redis.call('HMGET', K.flow(queue), 'v', 'concurrency', 'group_concurrency', 'rate', 'group_rate', 'hold', 'rate_shared')
  if flow[1] then
    lim = { group = tonumber(flow[3]), grate = flow[5], held = 0, rateHeld = 0, wake = nil, free = max + math.max(maxCpu, 0) }
    local cap, free = tonumber(flow[2]), nil
    if cap then free = math.max(0, cap - redis.call('ZCARD', K.active(queue))) end
    local hold = tonumber(flow[6])
    if hold and hold > now then -- the queue is held (a handler's rate_limited): nothing starts
      free, rateBound = 0, true
      wakeAt(lim, hold)
    else
      if hold then dropHold(queue, 'hold') end
      rateMax, ratePer = rateOf(flow[4])
      if rateMax then
        local room, at = rateRoom(K.rateLog(queue), rateMax, ratePer)
        if not free or room < free then free, rateBound = room, true end
        wakeAt(lim, at)
      elseif flow[7] then
        -- a Cluster shard's part of the queue's one rate, whose log is shard 0's: the claim takes
        -- what it reserved there (reserveRate.lua); without a reservation, nothing, and looks again
        local room = reserved or -1
        if room < 0 then room = 0; wakeAt(lim, now + 1000) end
        if not free or room < free then free, rateBound = room, true end
      end
    end
    if free then
      lim.free = free
      if free < max then max, capped = free, true end
      if maxCpu > free then maxCpu, capped = free, true end
    end
  end

  local n, taken = takeKind(queue, '', ready, consumer, max, 0, leaseUntil, tokenBase, out, lim)
  if capped then
    if taken >= max then -- the queue's limit, not the work, ended the claim
      if rateBound then lim.rateHeld = lim.rateHeld + 1 else lim.held = lim.held + 1 end
    end
    maxCpu = math.min(maxCpu, lim.free - taken)
  elseif redis.call('LLEN', K.groups(queue, '')) > 0 then
    if taken >= max then redis.call('ZADD', K.marker(queue), '0', 'm') end
  elseif #ready == 0 then
    if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), '0', 'm') end
  elseif taken >= max then
    redis.call('ZADD', K.marker(queue), '0', 'm') -- there may be more: a consumer looks
  end

  if maxCpu < 0 then maxCpu = max - taken end
  if maxCpu > 0 then
    local cpuTaken
    n, cpuTaken = takeKind(queue, '1', redis.call('ZRANGE', K.cpuReady(queue), 0, -1), consumer, maxCpu, n, leaseUntil, tokenBase, out, lim)
    out[3] = cpuTaken
    -- there may be more: a consumer with a free thread looks (one with none does not wait on it)
    if cpuTaken >= maxCpu and not capped then redis.call('ZADD', K.cpuMarker(queue), '0', 'm') end
  elseif cpuDue then
    redis.call('ZADD', K.cpuMarker(queue), '0', 'm')
  end
  if lim and lim.held > 0 then redis.call('INCRBY', K.heldBack(queue), lim.held) end
  local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if nextDelayed[2] then out[2] = nextDelayed[2] end
  if lim then
    if rateMax and n > 0 then -- every job started counts in the queue's window
      local started = {}
      for i = 1, n do started[i] = tokenBase .. '.' .. countStr(i) end
      rateTake(K.rateLog(queue), ratePer, started)
      if n >= lim.free then wakeAt(lim, select(2, rateRoom(K.rateLog(queue), rateMax, ratePer))) end
    end
    if lim.rateHeld > 0 then redis.call('INCRBY', K.heldBackRate(queue), lim.rateHeld) end
    -- held back by a rate or a hold: the claimer looks again when the window lets one start (no marker is set)
    if lim.wake and (out[2] == '' or lim.wake < tonumber(out[2])) then out[2] = string.format('%d', lim.wake) end
  end
  return out
end

-- claimFrom with the arguments ARGV[at + CLAIM_ARGS.<field>] (claimJobs.lua, completeAndClaim.lua)
local function claimWith(at)
  leanMoves = ARGV[at + CLAIM_ARGS.lean] == '1'
  return claimFrom(ARGV[at + CLAIM_ARGS.queue], ARGV[at + CLAIM_ARGS.consumer], argNumber(ARGV[at + CLAIM_ARGS.max], 'max'),
    argNumber(ARGV[at + CLAIM_ARGS.max_cpu], 'max_cpu'), argNumber(ARGV[at + CLAIM_ARGS.lease_ms], 'leaseMs'), ARGV[at + CLAIM_ARGS.token_base],
    ARGV[at + CLAIM_ARGS.trace] == '1', argNumber(ARGV[at + CLAIM_ARGS.rate_room], 'rate_room'))
end

-- a chunk's result is the count of primes in its range [lo, hi] (its params): an integer from 0 to
-- hi - lo + 1, as JSON writes one (digits only, so never inf, nan or a fraction). Whoever reports
-- it (a worker, a bot) is held to that, before anything is written (src/store/common.ts
-- chunkResultFits is the memory adapter's twin of it).
local MAX_CHUNK_RESULT_DIGITS = 15
local function chunkResultFits(result, params)
  if #result > MAX_CHUNK_RESULT_DIGITS or not string.find(result, '^%d+$') then return false end
  local ok, p = pcall(cjson.decode, params or '')
  if not ok or type(p) ~= 'table' then return false end
  local lo, hi = p.lo, p.hi
  return type(lo) == 'number' and type(hi) == 'number' and tonumber(result) <= hi - lo + 1
end

-- the largest count the JSON of a prime count's result holds exactly (2^53 - 1)
local MAX_SAFE_INTEGER = 9007199254740991

-- a held job succeeded (completeJobs.lua, completeBotJob.lua): acknowledge it and record its
-- result; a chunk's result is checked (chunkResultFits), recorded once per chunk index, and the
-- last chunk completes the parent with the sum (a chord). Answers OK, MISSING, TOKEN_MISMATCH,
-- CANCELLED or BAD_RESULT.
local function completeJob(id, token, result, lakeEntry, startedAt, createdAt, queue, parentId)
  -- holder(), reading only what a completion needs: a held job is never a parent (no progress).
  -- Its id is one a claim gave (a worker's) or the one a bot's record holds (botToken looked the
  -- id asked for up with jobKeyFor), so the hot path skips jobKeyFor; a key that is not a job's
  -- record reads as no job all the same: it has no state (readAck reads by redis.pcall)
  local jobKey = K.job(id)
  local v = readAck(jobKey)
  local state, held = v[ACK.state], v[ACK.token]
  if not state then return MISSING end
  if not held or held == '' or held ~= token then return state == 'CANCELLED' and CANCELLED or TOKEN_MISMATCH end
  -- the fields a held job keeps from its claim, as the worker's claim read them, or read now
  -- (ACK_CLAIMED in src/store/wire.ts)
  if not createdAt or createdAt == '' then
    local c = readClaimed(jobKey)
    createdAt, queue, parentId = c[ACK_CLAIMED.created_at] or '', c[ACK_CLAIMED.queue] or OMITTED_QUEUE, c[ACK_CLAIMED.parent_id] or ''
  end
  local j = { state = state, queue = queue, parent_id = parentId, total = '', completed = '',
    chunk_index = '', idem_key = v[ACK.idem_key] or '', created_at = createdAt, flow_id = isFlowNode(id) and redis.call('HGET', jobKey, 'flow_id') or nil }
  if j.parent_id ~= '' then
    local f = redis.call('HMGET', jobKey, 'chunk_index', 'params')
    if not chunkResultFits(result, f[2]) then return BAD_RESULT end
    j.chunk_index = f[1] or ''
  end
  finish(id, jobKey, j, 'SUCCESS', 'result', result, lakeEntry, startedAt)
  if j.parent_id == '' then return OK end

  local parentId = j.parent_id
  local parentKey = jobKeyFor(parentId)
  local parent = load(parentKey)
  if not parent or FINAL[parent.state] then return OK end
  if redis.call('HSETNX', K.chunkResults(parentId), j.chunk_index, result) == 0 then return OK end
  parent.completed = redis.call('HINCRBY', parentKey, 'completed', 1)
  if parent.completed < (tonumber(parent.total) or 0) then
    setState(parentId, parentKey, parent, 'PROGRESS')
    return OK
  end

  -- the last chunk: the sum of what each recorded (each checked as it was); a value that is not a
  -- count (a results hash written by something else) fails the count with the reason, never a
  -- script error that would leave it in PROGRESS for ever
  local sum = 0
  for _, r in ipairs(redis.call('HVALS', K.chunkResults(parentId))) do
    local n = tonumber(r)
    if not n or n < 0 or n ~= math.floor(n) then
      finish(parentId, parentKey, parent, 'FAILURE', 'error', 'a chunk result is not a count of primes: ' .. r)
      return OK
    end
    sum = sum + n
  end
  if sum > MAX_SAFE_INTEGER then
    finish(parentId, parentKey, parent, 'FAILURE', 'error', 'the chunks\' results add up to more than a count can be')
    return OK
  end
  local duration = math.max(0, now - (tonumber(parent.created_at) or now)) / 1000
  -- both numbers are finite here (a safe integer, a duration): the JSON has no inf, nan or exponent
  finish(parentId, parentKey, parent, 'SUCCESS', 'result',
    string.format('{"prime_count":%.0f,"duration_sec":%.3f}', sum, duration))
  return OK
end

-- completions from ARGV (completeJobs.lua, completeAndClaim.lua): at `from` the largest result a
-- SUCCESS event carries (eventResultMax), then '1' on a prefix at format 3 (leanMoves), then the
-- count, then per job the layout COMPLETION of src/store/wire.ts. Answers one code per job
-- (completeJob's) and the index of the first argument after them.
local function completeRows(from)
  local codes = {}
  eventResultMax = argNumber(ARGV[from], 'the event result\'s size')
  from = from + 1
  leanMoves = ARGV[from] == '1'
  from = from + 1
  local count = argNumber(ARGV[from], 'the completions\' count')
  for i = 1, count do
    local at = from + (i - 1) * COMPLETION_SIZE -- a completion's fields are ARGV[at + COMPLETION.<field>]
    codes[i] = completeJob(ARGV[at + COMPLETION.id], ARGV[at + COMPLETION.token], ARGV[at + COMPLETION.result],
      ARGV[at + COMPLETION.lake_entry], ARGV[at + COMPLETION.started_at], ARGV[at + COMPLETION.created_at],
      ARGV[at + COMPLETION.queue], ARGV[at + COMPLETION.parent_id])
  end
  return codes, from + 1 + count * COMPLETION_SIZE
end

-- a held job's attempt failed (failJob.lua, failBotJob.lua); where it goes (RETRY in delayMs, DEAD
-- or FAILURE) is decided in TypeScript. A chunk that ends in DEAD or FAILURE fails its parent.
local function failJob(id, token, err, target, delayMs)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  if target == 'RETRY' then
    local runAt = now + delayMs
    setState(id, jobKey, j, 'RETRY', released({ 'error', err, 'run_at', runAt,
      'attempts_log', logAttempt(jobKey, j, 'RETRY', err) }))
    unlease(j.queue, id)
    if runAt <= now then
      requeueAtHead(id, j.queue, j.priority, j.cpu, j.group)
    else
      redis.call('ZADD', K.delayed(j.queue), runAt, id)
    end
  else
    finish(id, jobKey, j, target, 'error', err)
    failParent(j, err)
  end
  return OK
end

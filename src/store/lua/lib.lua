--[[ lib.lua: helpers every script starts with (prepended when the script is loaded).
  KEYS[1]  base: the hash-tagged key prefix "{prefix}:" (names mirror src/store/keys.ts)
  KEYS[2]  guard: "<base>guard", never written, like the base (src/store/scripts.ts: a Cluster
           then refuses the script with TRYAGAIN while its slot is half moved)
  ARGV[1]  '' : the script's time is Redis's clock (TIME), the one clock of the whole cluster: a
           deadline a script writes (a lease, a retry's due time, a heartbeat) and one it compares
           with were both made by it, whatever the clocks of the hosts that asked. Clients pass
           durations (leaseMs, a retry's delay, a TTL), never times. A number instead: that time
           (ms), a test's clock (StoreOptions.now); production never sends one.
  ARGV[2]  resultTtlMs: finished jobs expire this long after they finish
  ARGV[3]  eventRetentionMs: the event log keeps roughly this much history
  Script-specific arguments start at ARGV[4].

  Side effects that many jobs share a key for (the per-state indexes, a queue's lease set, the
  event log) are gathered while a script runs and written once, as variadic commands, by
  flush(), which every script that changes a job calls before it returns: one ZADD or XADD for
  a batch of 64 jobs costs a fraction of 64 of them.

  Every transition of a job, where it is written (a script, through lib.lua's function) and its
  states; setState and finish refuse a move the table TRANSITIONS (generated from
  src/core/job.ts, prepended by src/store/scripts.ts) does not list. The memory adapter
  (src/store/memory) does the same moves; test/integration/store-twins.test.ts compares the two.

  transition              script (lib.lua function)                     from                       to
  enqueue                 enqueueJobs, enqueueBatch, enqueueScheduled   (new)                      PENDING (delayed: run_at)
                          (enqueueRows)
  claim                   claimJobs, completeAndClaim, claimJobForBot   PENDING, RETRY             STARTED
                          (claimFrom)                                   parent PENDING             parent STARTED
  renew                   renewLease, heartbeatBot                      STARTED, PROGRESS          (same: the lease moves)
  bot start               startJob                                      STARTED                    PROGRESS
  complete                completeJobs, completeAndClaim,               STARTED, PROGRESS          SUCCESS
                          completeBotJob (completeJob)                  parent STARTED, PROGRESS   PROGRESS (a chunk done),
                                                                                                   SUCCESS (the last one)
  fail                    failJob, failBotJob (failJob)                 STARTED, PROGRESS          RETRY, FAILURE, DEAD
  a chunk ends for good   (failParent, endChunks)                       parent not final           FAILURE
                                                                        its other chunks not final FAILURE
  release                 releaseJob, releaseLostClaim, removeBot       STARTED, PROGRESS          PENDING (attempt not counted)
                          (releaseHeld)
  reap                    reapExpiredLeases (reclaim)                   STARTED, PROGRESS          RETRY, or DEAD (last attempt)
  bots down               markBotsDown (reclaim)                        STARTED, PROGRESS          RETRY, or DEAD (last attempt)
  cancel                  cancelJob (cancel, endChunks)                 PENDING, RETRY, STARTED,   CANCELLED, and a parent's
                                                                        PROGRESS                   unfinished chunks too
  retry a dead job        retryDeadJob (requeueAnew)                    DEAD                       PENDING
  retry a failed job      retryFailedJob (requeueAnew)                  FAILURE                    PENDING
  check                   checkJob                                      any                        (same: checked_by)
]]
local base = KEYS[1]
-- now as a string too: what is written uses it. Every number a script hands to Redis or
-- concatenates is formatted by sprintf("%.17g"), which costs more than the command it is for, so
-- the hot paths pass strings (nowStr, '0', countStr) wherever they can. TIME answers seconds and
-- microseconds as strings: the milliseconds are the seconds and the first three of the six
-- microsecond digits (TIME does not pad them: '5123' is 005123 µs), built by concatenation alone.
local nowStr = ARGV[1]
if nowStr == '' then
  local t = redis.call('TIME')
  nowStr = t[1] .. string.sub('000' .. string.sub(t[2], 1, -4), -3)
end
local now = tonumber(nowStr)
local resultTtl = tonumber(ARGV[2])
local ttlStr = ARGV[2]

-- small non-negative integers as strings without sprintf: countStr(3) == '3'
local COUNTS = { [0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15',
  '16', '17', '18', '19', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30', '31', '32' }
local function countStr(n)
  return COUNTS[n] or string.format('%d', n)
end
local eventRetention = tonumber(ARGV[3])

local K = {
  job = function(id) return base .. 'job:' .. id end,
  children = function(id) return base .. 'job:' .. id .. ':children' end,
  chunkResults = function(id) return base .. 'job:' .. id .. ':results' end,
  wait = function(q) return base .. 'q:' .. q .. ':wait' end,
  -- the wait list of a priority: the default one (5, or '') is K.wait itself
  waitAt = function(q, p) if p == '' or p == '5' or p == 5 then return base .. 'q:' .. q .. ':wait' end return base .. 'q:' .. q .. ':wait:' .. p end,
  ready = function(q) return base .. 'q:' .. q .. ':ready' end,
  active = function(q) return base .. 'q:' .. q .. ':active' end,
  delayed = function(q) return base .. 'q:' .. q .. ':delayed' end,
  marker = function(q) return base .. 'q:' .. q .. ':marker' end,
  state = function(s) return base .. 'state:' .. s end,
  counts = base .. 'counts',
  jobs = base .. 'jobs',
  dlq = base .. 'dlq',
  events = base .. 'events',
  abacus = base .. 'abacus',
  rate = function(bucket) return base .. 'rate:' .. bucket end,
  lock = function(name) return base .. 'lock:' .. name end,
  once = function(name) return base .. 'once:' .. name end,
  idem = function(key) return base .. 'idem:' .. key end,
  node = function(role, id) return base .. 'node:' .. role .. ':' .. id end,
  nodes = function(role) return base .. 'nodes:' .. role end,
  queues = base .. 'queues',
  schedules = base .. 'schedules',
  bot = function(id) return base .. 'bot:' .. id end,
  bots = base .. 'bots',
  botsUp = base .. 'bots:up',
  botTokens = base .. 'bots:tokens',
  config = base .. 'config',
  lake = function(day) return base .. 'datalake:' .. day end,
  lakeStats = function(day) return base .. 'datalake:' .. day .. ':stats' end,
  lakeDays = base .. 'datalake:days',
}

-- the result codes (OK, MISSING, TOKEN_MISMATCH, ...) and the layouts' sizes (ROW_SIZE, ...) are
-- generated from src/store/wire.ts above this file; a layout's position is written by name
-- (ROW.type, CLAIM.token: see the layouts there) and scripts.ts puts the number in its place

local RUNNABLE = { PENDING = true, RETRY = true }
local HELD = { STARTED = true, PROGRESS = true }
local FINAL = { SUCCESS = true, FAILURE = true, DEAD = true, CANCELLED = true }
local DEFAULT_PRIORITY = '5'

-- gathered side effects, written by flush(). The hot paths (claim, complete, enqueue) run once
-- per job, so they build as few Lua tables and strings as they can: each costs Redis CPU.
local moveFrom, moveTo, moveQueued, moveOrder = {}, {}, {}, {} -- top-level job id -> its per-state index entry
local leases = {}                 -- queue -> {score, id, ...}: ZADD to the lease set
local unleased = {}               -- queue -> {id, ...}: ZREM from the lease set
local events = {}                 -- job id, change, ...: one entry of the event log per script

-- the list t[key], made on first use
local function listFor(t, key)
  local list = t[key]
  if not list then list = {}; t[key] = list end
  return list
end

-- run `cmd key <items>` in slices, so no unpack exceeds Lua's stack
local function variadic(cmd, key, items, step)
  step = step or 1000
  for i = 1, #items, step do
    redis.call(cmd, key, unpack(items, i, math.min(i + step - 1, #items)))
  end
end

-- a state or progress change for the event log: "STATE" or "STATE completed total"
local function emit(id, state, completed, total)
  events[#events + 1] = id
  if total and total ~= '' then
    events[#events + 1] = state .. ' ' .. completed .. ' ' .. total
  else
    events[#events + 1] = state
  end
end

-- The per-state index (K.state) holds the top-level jobs of each state, except where a queue
-- holds them already: a queued job that is PENDING is in its queue's wait list, one that is
-- STARTED in its lease set. Those are only counted (K.counts), so the common path of a job
-- through a queue writes no index at all until it finishes; src/store/redis.ts lists them from
-- the queues.
local QUEUE_HELD = { PENDING = true, STARTED = true }

-- a top-level job changes state in the index (from = false for a new job; queued: it has a
-- queue); a job that moves twice in one script moves once, from where it was to where it ends
local function indexMove(id, from, to, queued)
  if moveTo[id] == nil then
    moveFrom[id] = from
    moveQueued[id] = queued
    moveOrder[#moveOrder + 1] = id
  end
  moveTo[id] = to
end

-- ---- the datalake: settings in K.config (README "Datalake"), defaults: records all, 30 days ----
local DAY_MS = 86400000

-- days since 1970-01-01 → 'YYYY-MM-DD' (proleptic Gregorian; Hinnant's civil_from_days),
-- remembered: the times of one script are mostly of one day
local dayNames = {}
local function dayName(days)
  if dayNames[days] then return dayNames[days] end
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  dayNames[days] = string.format('%04d-%02d-%02d', y, m, doy - math.floor((153 * mp + 2) / 5) + 1)
  return dayNames[days]
end

-- what the lake records: 'all', 'none' or 'type,type' (read once per script)
local lakeRecords
local function lakeSetting()
  lakeRecords = lakeRecords or redis.call('HGET', K.config, 'datalake') or 'all'
  return lakeRecords
end

-- records gathered per day (written by flushLake, which flush() calls): day -> {records, counters}
local lakeDays, lakeDayOrder = {}, {}

-- a finished top-level job of a recorded type, for its UTC day: one JSON array (the entry
-- src/core/datalake.ts lakeEntry writes and lakeRecord reads); its result or error is this
-- finish's (`field`, 'result' or 'error', and `value`). j is the job as load() read it.
-- `entry`, when given (not nil or ''), is that array already made by the caller from the job as
-- it claimed it but for its finish time, open at the end ('[..., started_at,'), and `startedAt`
-- its start (a worker's completion): building it here costs more Redis CPU than the rest of a
-- completion. The finish time is this script's (nowStr), closing it; it is written in this same
-- step all the same.
local function appendToLake(id, jobKey, j, to, field, value, entry, startedAt)
  if j.parent_id ~= '' or lakeSetting() == 'none' then return end
  local started
  if entry and entry ~= '' then
    entry = entry .. nowStr .. ']'
    if lakeRecords ~= 'all' and not string.find(',' .. lakeRecords .. ',', ',' .. redis.call('HGET', jobKey, 'type') .. ',', 1, true) then return end
    started = tonumber(startedAt)
  else
    local jobType, ran, initiatedBy, attempts, handledBy, createdAt =
      unpack(redis.call('HMGET', jobKey, 'type', 'started_at', 'initiated_by', 'attempts', 'handled_by', 'created_at'))
    if lakeRecords ~= 'all' and not string.find(',' .. lakeRecords .. ',', ',' .. jobType .. ',', 1, true) then return end
    started = tonumber(ran)
    entry = cjson.encode({ [LAKE.id] = id, [LAKE.type] = jobType, [LAKE.queue] = j.queue, [LAKE.status] = to,
      [LAKE.result] = field == 'result' and value or '', [LAKE.error] = field == 'error' and value or '',
      [LAKE.attempts] = tonumber(attempts) or 0, [LAKE.initiated_by] = initiatedBy or '', [LAKE.handled_by] = handledBy or '',
      [LAKE.created_at] = tonumber(createdAt), [LAKE.started_at] = started or cjson.null, [LAKE.finished_at] = now })
  end
  local duration = started and (now - started)
  local today = math.floor(now / DAY_MS)
  local day = dayName(today)
  local d = lakeDays[day]
  if not d then
    d = { start = today * DAY_MS, records = {}, success = 0, durationSum = 0, timed = 0 }
    lakeDays[day] = d
    lakeDayOrder[#lakeDayOrder + 1] = day
  end
  d.records[#d.records + 1] = entry
  if to == 'SUCCESS' then d.success = d.success + 1 end
  if duration then
    d.durationSum = d.durationSum + duration
    d.timed = d.timed + 1
  end
end

-- each day's gathered records in one RPUSH and its counters once; a day joins the index with its
-- first records (the record count is the list's length)
local function flushLake()
  for _, day in ipairs(lakeDayOrder) do
    local d = lakeDays[day]
    local len
    for i = 1, #d.records, 1000 do
      len = redis.call('RPUSH', K.lake(day), unpack(d.records, i, math.min(i + 999, #d.records)))
    end
    if len == #d.records then redis.call('ZADD', K.lakeDays, d.start, day) end
    local stats = K.lakeStats(day)
    if d.success > 0 then redis.call('HINCRBY', stats, 'success', d.success) end
    if d.timed > 0 then
      redis.call('HINCRBY', stats, 'duration_ms_sum', d.durationSum)
      redis.call('HINCRBY', stats, 'duration_count', d.timed)
    end
  end
  lakeDays, lakeDayOrder = {}, {}
end

local function flush()
  local removed, added, counted = {}, {}, {}
  for i = 1, #moveOrder do
    local id = moveOrder[i]
    local from, to, queued = moveFrom[id], moveTo[id], moveQueued[id]
    if from ~= to then
      if from and queued and QUEUE_HELD[from] then
        counted[from] = (counted[from] or 0) - 1
      elseif from then
        local r = listFor(removed, from)
        r[#r + 1] = id
      end
      if queued and QUEUE_HELD[to] then
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
  for queue, ids in pairs(unleased) do variadic('ZREM', K.active(queue), ids) end
  for queue, pairs_ in pairs(leases) do variadic('ZADD', K.active(queue), pairs_) end
  for i = 1, #events, 2000 do
    redis.call('XADD', K.events, 'MAXLEN', '~', 100000, '*', unpack(events, i, math.min(i + 1999, #events)))
  end
  flushLake()
end

-- the fields transitions read, in one call, as a table made whole at once (a table that grows
-- field by field is rehashed as it goes); nil when the job does not exist. The hot paths read
-- only what they need instead (claimFrom, completeJob).
local function load(jobKey)
  local v = readLoad(jobKey)
  if not v[LOAD.state] then return nil end
  return { state = v[LOAD.state], queue = v[LOAD.queue] or '', parent_id = v[LOAD.parent_id] or '', total = v[LOAD.total] or '',
    completed = v[LOAD.completed] or '', token = v[LOAD.token] or '', attempts = v[LOAD.attempts] or '',
    max_attempts = v[LOAD.max_attempts] or '', chunk_index = v[LOAD.chunk_index] or '', created_at = v[LOAD.created_at] or '',
    handled_by = v[LOAD.handled_by] or '', priority = v[LOAD.priority] or '', idem_key = v[LOAD.idem_key] or '' }
end

-- move a job to a new state in one write: the record (with `extra` field/value pairs), and,
-- gathered for flush(), its per-state index entry and the event. j is the job as load() read it.
-- what follows a state change written to the record (setState, finish): the index move and the
-- event, gathered for flush()
local function moved(id, j, to)
  if j.parent_id == '' then indexMove(id, j.state, to, j.queue ~= '') end
  emit(id, to, j.completed, j.total)
  j.state = to
end

-- a move TRANSITIONS does not list is a bug: the script fails before it writes anything of it
local function transition(j, to)
  local allowed = TRANSITIONS[j.state]
  if not (allowed and allowed[to]) then error('wizard: no transition ' .. tostring(j.state) .. ' -> ' .. to) end
end

local function setState(id, jobKey, j, to, extra)
  transition(j, to)
  local args = { 'HSET', jobKey, 'state', to, 'updated_at', nowStr }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  redis.call(unpack(args))
  moved(id, j, to)
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

-- a job of priority p ('' is the default) is ready: its queue's claims look at that wait list
-- (K.ready lists the priorities other than the default whose lists may hold jobs)
local function markReady(queue, p)
  if p ~= '' and p ~= DEFAULT_PRIORITY then redis.call('ZADD', K.ready(queue), p, p) end
end

-- put a job at the head of its queue (of its priority's list: next to be claimed) and wake a consumer
local function requeueAtHead(id, queue, p)
  redis.call('RPUSH', K.waitAt(queue, p or ''), id)
  markReady(queue, p or '')
  redis.call('ZADD', K.marker(queue), '0', 'm')
end

-- a job leaves its queue before it ran (cancelled, or its parent ended): out of its wait list
-- and the delayed set
local function unqueue(id, j)
  redis.call('LREM', K.waitAt(j.queue, j.priority), 0, id)
  redis.call('ZREM', K.delayed(j.queue), id)
end

-- fields that end a hold: the token is cleared ('' means not held)
local function released(extra)
  local out = { 'token', '' }
  for _, v in ipairs(extra or {}) do out[#out + 1] = v end
  return out
end

-- the job reaches SUCCESS, FAILURE or DEAD with its result or error (`field`: 'result' or
-- 'error') in one write, stops being held, and expires or, DEAD, waits in the dead-letter queue;
-- the datalake records it in this same step (flush)
local function finish(id, jobKey, j, to, field, value, entry, startedAt)
  transition(j, to)
  redis.call('HSET', jobKey, 'state', to, 'updated_at', nowStr, 'token', '', field, value, 'finished_at', nowStr)
  moved(id, j, to)
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
  local jobKey = K.job(id)
  local j = load(jobKey)
  if not j then return nil, MISSING end
  if j.token == '' or j.token ~= token then return nil, j.state == 'CANCELLED' and CANCELLED or TOKEN_MISMATCH end
  return jobKey, j
end

-- take a held job back from a holder that is gone (its lease lapsed, its bot is down): to the head
-- of its queue as RETRY, or DEAD when it has used every attempt (failing its parent)
local function reclaim(id, jobKey, j, why)
  local reason = why .. ' (held by ' .. j.handled_by .. ', attempt ' .. j.attempts .. ' of ' .. j.max_attempts .. ')'
  if tonumber(j.attempts) >= tonumber(j.max_attempts) then
    finish(id, jobKey, j, 'DEAD', 'error', reason)
    failParent(j, reason)
    return 'DEAD'
  end
  setState(id, jobKey, j, 'RETRY', released({ 'error', reason, 'run_at', now }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue, j.priority)
  return 'RETRY'
end

-- give a held job back to the head of its queue (its holder is stopping); the attempt does not count
local function releaseHeld(id, jobKey, j)
  setState(id, jobKey, j, 'PENDING', released({ 'attempts', tonumber(j.attempts) - 1, 'handled_by', '' }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue, j.priority)
end

-- create jobs from rows of ARGV from index `from`: ARGV[from] is the rows' size, ROW_SIZE (the
-- layout ROW of src/store/wire.ts) or PLAIN_ROW_SIZE (ROW's first fields only: a batch whose
-- jobs have no options, the common case, sends nothing for them), then the rows. Put the queued
-- ones at the tail of their queue (of their priority's wait list), or, delayed, in its delayed
-- set (enqueueJobs.lua, enqueueBatch.lua). Answers the number created. Only fields with a value are written, and not
-- what a reader knows without them (src/store/codec.ts decodeJob): the id (it is in the key),
-- attempts 0, updated_at = created_at, priority 5. state comes first: most reads look it up first.
-- OPTIONAL_FIELDS (generated): the fields written only when they have a value, name and position in ROW
local function enqueueRows(from)
  local waiting = {}   -- wait list key -> {queue, priority, ids}, pushed with one LPUSH each
  local created = {}   -- now, id, ... for the index of all top-level jobs
  local delayedQueues = {}
  local count = 0
  local size = tonumber(ARGV[from])
  local plain = size == PLAIN_ROW_SIZE
  for at = from, #ARGV - 1, size do -- a row's fields are ARGV[at + ROW.<field>]
    local id, queue, initiatedBy = ARGV[at + ROW.id], ARGV[at + ROW.queue], ARGV[at + ROW.initiated_by]
    local jobType, params, maxAttempts = ARGV[at + ROW.type], ARGV[at + ROW.params], ARGV[at + ROW.max_attempts]
    local parentId, total, priority, delay = '', '', '', ''
    if not plain then
      parentId, total, priority, delay = ARGV[at + ROW.parent_id], ARGV[at + ROW.total], ARGV[at + ROW.priority], ARGV[at + ROW.delay_ms]
    end
    local jobKey = K.job(id)
    local runAt
    count = count + 1
    if plain or (parentId == '' and total == '' and priority == '' and delay == '' and ARGV[at + ROW.timeout_ms] == ''
        and ARGV[at + ROW.idem_key] == '') then
      -- a job of its own (a task, a bot job) with no options: one write with a fixed shape
      if initiatedBy == '' then
        redis.call('HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'queue', queue, 'params', params,
          'max_attempts', maxAttempts, 'created_at', nowStr)
      else
        redis.call('HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'queue', queue, 'params', params,
          'max_attempts', maxAttempts, 'created_at', nowStr, 'initiated_by', initiatedBy)
      end
    else
      local fields = { 'HSET', jobKey, 'state', 'PENDING', 'type', jobType, 'queue', queue, 'params', params,
        'max_attempts', maxAttempts, 'created_at', nowStr }
      for i = 1, #OPTIONAL_FIELDS, 2 do
        local value = ARGV[at + OPTIONAL_FIELDS[i + 1]]
        if value ~= '' then
          fields[#fields + 1] = OPTIONAL_FIELDS[i]
          fields[#fields + 1] = value
        end
      end
      if total ~= '' then
        fields[#fields + 1] = 'completed'
        fields[#fields + 1] = '0'
      end
      if delay ~= '' and tonumber(delay) > 0 then
        runAt = now + tonumber(delay)
        fields[#fields + 1] = 'run_at'
        fields[#fields + 1] = string.format('%d', runAt)
      end
      redis.call(unpack(fields))
    end
    if parentId == '' then
      created[#created + 1] = nowStr
      created[#created + 1] = id
      indexMove(id, false, 'PENDING', queue ~= '')
    else
      redis.call('RPUSH', K.children(parentId), id)
    end
    if queue ~= '' then
      if runAt then
        redis.call('ZADD', K.delayed(queue), runAt, id)
        delayedQueues[queue] = true
      else
        local listKey = K.waitAt(queue, priority)
        local w = waiting[listKey]
        if not w then w = { queue = queue, priority = priority, ids = {} }; waiting[listKey] = w end
        w.ids[#w.ids + 1] = id
      end
    end
    emit(id, 'PENDING', total == '' and '' or 0, total)
  end
  if #created > 0 then variadic('ZADD', K.jobs, created) end
  for listKey, w in pairs(waiting) do
    variadic('LPUSH', listKey, w.ids)
    markReady(w.queue, w.priority)
    delayedQueues[w.queue] = true
  end
  -- a consumer wakes for new work, or to learn a nearer due time
  for queue in pairs(delayedQueues) do
    redis.call('ZADD', K.marker(queue), '0', 'm')
    redis.call('SADD', K.queues, queue)
  end
  return count
end

-- take up to `max` jobs from the head of a queue and hold them under a lease (claimJobs.lua,
-- claimJobForBot.lua); answers {now, nextRunAt or '', {claim values}, ...}: the time of the claim
-- (the jobs' started_at: the client knows no other) and when the next delayed job is due. A job's
-- claim values are what its consumer cannot know, the layout CLAIM of src/store/wire.ts (a field
-- the job does not have is false: null to the client).
-- Priorities: the most urgent non-empty wait list first (K.ready names the non-default ones
-- that may hold jobs; with none, the default list alone, as before priorities). A paused queue
-- (the member 'paused' in K.ready, score -1: it sorts first) gives nothing.
local function claimFrom(queue, consumer, max, leaseMs, tokenBase)
  local waitKey, delayedKey, readyKey = K.wait(queue), K.delayed(queue), K.ready(queue)
  local leaseUntil = string.format('%d', now + leaseMs)
  local ready = redis.call('ZRANGE', readyKey, 0, -1)
  local out = { nowStr, '' }
  if ready[1] == 'paused' then return out end

  -- the head is the right end: push the latest-due first, so the earliest-due is claimed first
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    variadic('ZREM', delayedKey, due)
    local urgent = false
    for i = #due, 1, -1 do
      local p, state = unpack(redis.call('HMGET', K.job(due[i]), 'priority', 'state'))
      p = p or ''
      -- a delayed job is due: no run_at any more (a retry keeps its until it is claimed)
      if state == 'PENDING' then redis.call('HSET', K.job(due[i]), 'run_at', '') end
      redis.call('RPUSH', K.waitAt(queue, p), due[i])
      if p ~= '' and p ~= DEFAULT_PRIORITY then
        redis.call('ZADD', readyKey, p, p)
        urgent = true
      end
    end
    if urgent then ready = redis.call('ZRANGE', readyKey, 0, -1) end
  end

  -- the lists to take from, most urgent first: the default one among the others
  local lists = { waitKey }
  if #ready > 0 then
    lists = {}
    local placed = false
    for _, p in ipairs(ready) do
      if not placed and tonumber(p) > 5 then lists[#lists + 1] = waitKey; placed = true end
      lists[#lists + 1] = p
    end
    if not placed then lists[#lists + 1] = waitKey end
  end

  local n = 0
  for _, list in ipairs(lists) do
    local listKey = list == waitKey and waitKey or K.waitAt(queue, list)
    while n < max do
      local ids = redis.call('RPOP', listKey, max - n)
      if not ids then break end
      for _, id in ipairs(ids) do
        local jobKey = K.job(id)
        -- v becomes the claim values in place: the state, read where the id goes, is replaced by
        -- it, then the priority (the list's: not read) and the token are added. Every field a job
        -- lacks costs HMGET a scan of the record, so only timeout_ms is asked for beyond what was
        -- asked before.
        local v = readClaim(jobKey)
        local state, parentId = v[CLAIM.id], v[CLAIM.parent_id]
        if state and RUNNABLE[state] then
          n = n + 1
          local token = tokenBase .. '.' .. countStr(n)
          local attempts = countStr((tonumber(v[CLAIM.attempts]) or 0) + 1)
          if state == 'RETRY' then -- the only state with a run_at here (a delayed job's is cleared when it is due)
            redis.call('HSET', jobKey, 'state', 'STARTED', 'updated_at', nowStr, 'attempts', attempts, 'token', token,
              'handled_by', consumer, 'started_at', nowStr, 'run_at', '')
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
          v[CLAIM.id], v[CLAIM.attempts], v[CLAIM.priority], v[CLAIM.token] = id, attempts, list == waitKey and DEFAULT_PRIORITY or list, token
          out[#out + 1] = v
        end
      end
    end
    -- a priority's list emptied leaves the ready set now: what it says orders claims across shards
    if list ~= waitKey and redis.call('LLEN', listKey) == 0 then redis.call('ZREM', readyKey, list) end
    if n >= max then break end
  end

  if #ready == 0 then
    if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), '0', 'm') end
  elseif n >= max then
    redis.call('ZADD', K.marker(queue), '0', 'm') -- there may be more: a consumer looks
  end
  local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if nextDelayed[2] then out[2] = nextDelayed[2] end
  return out
end

-- claimFrom with the arguments ARGV[at + CLAIM_ARGS.<field>] (claimJobs.lua, completeAndClaim.lua)
local function claimWith(at)
  return claimFrom(ARGV[at + CLAIM_ARGS.queue], ARGV[at + CLAIM_ARGS.consumer], tonumber(ARGV[at + CLAIM_ARGS.max]),
    tonumber(ARGV[at + CLAIM_ARGS.lease_ms]), ARGV[at + CLAIM_ARGS.token_base])
end

-- a held job succeeded (completeJobs.lua, completeBotJob.lua): acknowledge it and record its
-- result; a chunk's result is recorded once per chunk index and the last chunk completes the
-- parent with the sum (a chord). Answers OK, MISSING, TOKEN_MISMATCH or BAD_RESULT.
local function completeJob(id, token, result, lakeEntry, startedAt)
  -- holder(), reading only what a completion needs: a held job is never a parent (no progress)
  local jobKey = K.job(id)
  local v = readAck(jobKey)
  local state, held = v[ACK.state], v[ACK.token]
  if not state then return MISSING end
  if not held or held == '' or held ~= token then return state == 'CANCELLED' and CANCELLED or TOKEN_MISMATCH end
  local j = { state = state, queue = v[ACK.queue] or '', parent_id = v[ACK.parent_id] or '', total = '', completed = '',
    chunk_index = '', idem_key = v[ACK.idem_key] or '' }
  if j.parent_id ~= '' then
    if not tonumber(result) then return BAD_RESULT end
    j.chunk_index = redis.call('HGET', jobKey, 'chunk_index') or ''
  end
  finish(id, jobKey, j, 'SUCCESS', 'result', result, lakeEntry, startedAt)
  if j.parent_id == '' then return OK end

  local parentId = j.parent_id
  local parentKey = K.job(parentId)
  local parent = load(parentKey)
  if not parent or FINAL[parent.state] then return OK end
  if redis.call('HSETNX', K.chunkResults(parentId), j.chunk_index, result) == 0 then return OK end
  parent.completed = redis.call('HINCRBY', parentKey, 'completed', 1)
  if parent.completed < tonumber(parent.total) then
    setState(parentId, parentKey, parent, 'PROGRESS')
    return OK
  end

  local sum = 0
  for _, v in ipairs(redis.call('HVALS', K.chunkResults(parentId))) do sum = sum + tonumber(v) end
  local duration = (now - tonumber(parent.created_at)) / 1000
  finish(parentId, parentKey, parent, 'SUCCESS', 'result',
    string.format('{"prime_count":%.0f,"duration_sec":%.3f}', sum, duration))
  return OK
end

-- completions from ARGV (completeJobs.lua, completeAndClaim.lua): the count at `from`, then per
-- job the layout COMPLETION of src/store/wire.ts. Answers one code per job (completeJob's) and
-- the index of the first argument after them.
local function completeRows(from)
  local codes = {}
  local count = tonumber(ARGV[from])
  for i = 1, count do
    local at = from + (i - 1) * COMPLETION_SIZE -- a completion's fields are ARGV[at + COMPLETION.<field>]
    codes[i] = completeJob(ARGV[at + COMPLETION.id], ARGV[at + COMPLETION.token], ARGV[at + COMPLETION.result],
      ARGV[at + COMPLETION.lake_entry], ARGV[at + COMPLETION.started_at])
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
    setState(id, jobKey, j, 'RETRY', released({ 'error', err, 'run_at', runAt }))
    unlease(j.queue, id)
    if runAt <= now then
      requeueAtHead(id, j.queue, j.priority)
    else
      redis.call('ZADD', K.delayed(j.queue), runAt, id)
    end
  else
    finish(id, jobKey, j, target, 'error', err)
    failParent(j, err)
  end
  return OK
end

-- ---- bots (seed 004): they act through the API, which names the bot, never a claim token ----

-- the claim token bot `botId` holds job `id` with: its record keeps it; it never leaves Redis
local function botToken(botId, id)
  local held = redis.call('HMGET', K.bot(botId), 'current_job', 'job_token')
  if not held[1] then return nil, BOT_MISSING end
  if held[1] ~= id then
    local state = redis.call('HGET', K.job(id), 'state')
    if not state then return nil, MISSING end
    -- a cancelled job the bot was told of at its heartbeat (which forgot it): still said as cancelled
    if state == 'CANCELLED' then return nil, CANCELLED end
    return nil, NOT_HOLDER
  end
  return held[2], OK
end

-- a bot is done with the job it held: forget it and count the outcome ('jobs_done', 'jobs_failed')
local function botDone(botId, counter)
  local botKey = K.bot(botId)
  redis.call('HSET', botKey, 'current_job', '', 'job_token', '')
  redis.call('HINCRBY', botKey, counter, 1)
end

-- a transition of job `id` for bot `botId` (completeJob, failJob, ...), with the claim token the
-- bot's record keeps; when it succeeds and `counter` is given, the bot is counted and free again
local function forBot(botId, id, counter, transition, ...)
  local token, code = botToken(botId, id)
  if not token then return code end
  code = transition(id, token, ...)
  if code == OK and counter then botDone(botId, counter) end
  return code
end

-- ---- retries asked for by a person (the dead-letter queue, a job's page) ----

-- a finished job back at the tail of its queue as if new: its attempts from zero, its error,
-- finish and holder cleared (retryDeadJob, retryFailedJob)
local function requeueAnew(id, jobKey, j)
  setState(id, jobKey, j, 'PENDING', { 'attempts', 0, 'error', '', 'finished_at', '', 'handled_by', '', 'run_at', '' })
  redis.call('LPUSH', K.waitAt(j.queue, j.priority), id)
  markReady(j.queue, j.priority)
  redis.call('ZADD', K.marker(j.queue), 0, 'm')
  -- its idempotency key lives as long as the job again (finish gave it the result TTL)
  if j.idem_key ~= '' then redis.call('PERSIST', K.idem(j.idem_key)) end
  flush()
  return OK
end

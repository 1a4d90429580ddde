--[[ lib.lua: helpers every script starts with (prepended when the script is loaded).
  KEYS[1]  base: the hash-tagged key prefix "{prefix}:" (names mirror src/store/keys.ts)
  ARGV[1]  now (ms): time is an input, never TIME, so tests can control it
  ARGV[2]  resultTtlMs: finished jobs expire this long after they finish
  ARGV[3]  eventRetentionMs: the event log keeps roughly this much history
  Script-specific arguments start at ARGV[4].

  Side effects that many jobs share a key for (the per-state indexes, a queue's lease set, the
  event log) are gathered while a script runs and written once, as variadic commands, by
  flush(), which every script that changes a job calls before it returns: one ZADD or XADD for
  a batch of 64 jobs costs a fraction of 64 of them.
]]
local base = KEYS[1]
local now = tonumber(ARGV[1])
local resultTtl = tonumber(ARGV[2])
local eventRetention = tonumber(ARGV[3])

local K = {
  job = function(id) return base .. 'job:' .. id end,
  children = function(id) return base .. 'job:' .. id .. ':children' end,
  chunkResults = function(id) return base .. 'job:' .. id .. ':results' end,
  wait = function(q) return base .. 'q:' .. q .. ':wait' end,
  active = function(q) return base .. 'q:' .. q .. ':active' end,
  delayed = function(q) return base .. 'q:' .. q .. ':delayed' end,
  marker = function(q) return base .. 'q:' .. q .. ':marker' end,
  state = function(s) return base .. 'state:' .. s end,
  jobs = base .. 'jobs',
  dlq = base .. 'dlq',
  events = base .. 'events',
  abacus = base .. 'abacus',
  rate = function(bucket) return base .. 'rate:' .. bucket end,
  lock = function(name) return base .. 'lock:' .. name end,
  once = function(name) return base .. 'once:' .. name end,
  queues = base .. 'queues',
  bot = function(id) return base .. 'bot:' .. id end,
  bots = base .. 'bots',
  botsUp = base .. 'bots:up',
  botTokens = base .. 'bots:tokens',
  config = base .. 'config',
  lake = function(day) return base .. 'datalake:' .. day end,
  lakeStats = function(day) return base .. 'datalake:' .. day .. ':stats' end,
  lakeDays = base .. 'datalake:days',
}

-- codes every script answers with; src/store/redis.ts maps them to typed errors
local OK, MISSING, TOKEN_MISMATCH, BAD_RESULT, CONFLICT, OUT_OF_RANGE = 1, -1, -2, -3, -4, -5
-- ... and the bots' (through the API): the job is not the one the bot holds; no such bot; the
-- bot already holds a job
local NOT_HOLDER, BOT_MISSING, BOT_BUSY = -6, -7, -8

local RUNNABLE = { PENDING = true, RETRY = true }
local HELD = { STARTED = true, PROGRESS = true }
local FINAL = { SUCCESS = true, FAILURE = true, DEAD = true }

-- gathered side effects, written by flush()
local moves, moveOrder = {}, {}   -- top-level job id -> {from, to}: its per-state index entry
local leases = {}                 -- queue -> {score, id, ...}: ZADD to the lease set
local unleased = {}               -- queue -> {id, ...}: ZREM from the lease set
local events = {}                 -- job id, change, ...: one entry of the event log per script

local function push(t, key, ...)
  local list = t[key]
  if not list then list = {}; t[key] = list end
  for _, v in ipairs({ ... }) do list[#list + 1] = v end
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

-- a top-level job enters the per-state index (from = false for a new job)
local function indexMove(id, from, to)
  local m = moves[id]
  if m then
    m.to = to
  else
    moves[id] = { from = from, to = to }
    moveOrder[#moveOrder + 1] = id
  end
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

-- the value of `field` in a list of field/value pairs, or ''
local function pairValue(list, field)
  for i = 1, #(list or {}), 2 do
    if list[i] == field then return list[i + 1] end
  end
  return ''
end

-- records gathered per day (written by flushLake, which flush() calls): day -> {records, counters}
local lakeDays, lakeDayOrder = {}, {}

-- a finished top-level job of a recorded type, for its UTC day: one JSON array (the entry
-- src/core/datalake.ts lakeEntry writes and lakeRecord reads); its result and error are this
-- finish's (`extra`)
local function appendToLake(id, jobKey, j, to, extra)
  if j.parent_id ~= '' or lakeSetting() == 'none' then return end
  local f = redis.call('HMGET', jobKey, 'type', 'initiated_by', 'started_at')
  if lakeRecords ~= 'all' and not string.find(',' .. lakeRecords .. ',', ',' .. f[1] .. ',', 1, true) then return end
  local started = tonumber(f[3])
  local duration = started and (now - started)
  local record = cjson.encode({ id, f[1], j.queue, to, pairValue(extra, 'result'), pairValue(extra, 'error'),
    tonumber(j.attempts), f[2] or '', j.handled_by, tonumber(j.created_at), started or cjson.null, now })
  local today = math.floor(now / DAY_MS)
  local day = dayName(today)
  local d = lakeDays[day]
  if not d then
    d = { start = today * DAY_MS, records = {}, success = 0, durationSum = 0, timed = 0 }
    lakeDays[day] = d
    lakeDayOrder[#lakeDayOrder + 1] = day
  end
  d.records[#d.records + 1] = record
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
  local removed, added = {}, {}
  for _, id in ipairs(moveOrder) do
    local m = moves[id]
    if m.from and m.from ~= m.to then push(removed, m.from, id) end
    if m.from ~= m.to then push(added, m.to, now, id) end
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

-- the fields transitions read, in one call; nil when the job does not exist. A claim reads the
-- fields a consumer needs too (CLAIM_FIELDS, in the order src/store/codec.ts decodes them), so
-- it never reads a job twice.
local FIELDS = { 'state', 'queue', 'parent_id', 'total', 'completed', 'token', 'attempts',
  'max_attempts', 'chunk_index', 'created_at', 'handled_by' }
local CLAIM_FIELDS = { 'state', 'queue', 'parent_id', 'total', 'completed', 'token', 'attempts',
  'max_attempts', 'chunk_index', 'created_at', 'handled_by', 'id', 'type', 'params',
  'initiated_by', 'run_at' }
local function load(jobKey, fields)
  fields = fields or FIELDS
  local v = redis.call('HMGET', jobKey, unpack(fields))
  if not v[1] then return nil end
  local j = {}
  for i, f in ipairs(fields) do j[f] = v[i] or '' end
  return j
end

-- move a job to a new state in one write: the record (with `extra` field/value pairs), and,
-- gathered for flush(), its per-state index entry and the event. j is the job as load() read it.
local function setState(id, jobKey, j, to, extra)
  local args = { 'HSET', jobKey, 'state', to, 'updated_at', now }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  redis.call(unpack(args))
  if j.parent_id == '' then indexMove(id, j.state, to) end
  emit(id, to, j.completed, j.total)
  j.state = to
end

-- hold a job under a lease / stop holding it (gathered for flush())
local function lease(queue, id, untilMs) push(leases, queue, untilMs, id) end
local function unlease(queue, id) push(unleased, queue, id) end

-- put a job at the head of its queue (next to be claimed) and wake a consumer
local function requeueAtHead(id, queue)
  redis.call('RPUSH', K.wait(queue), id)
  redis.call('ZADD', K.marker(queue), 0, 'm')
end

-- fields that end a hold: the token is cleared ('' means not held)
local function released(extra)
  local out = { 'token', '' }
  for _, v in ipairs(extra or {}) do out[#out + 1] = v end
  return out
end

-- the job reaches SUCCESS, FAILURE or DEAD (one write), stops being held, and expires or,
-- DEAD, waits in the dead-letter queue; the datalake records it in this same step (flush)
local function finish(id, jobKey, j, to, extra)
  local fields = released(extra)
  fields[#fields + 1] = 'finished_at'
  fields[#fields + 1] = now
  setState(id, jobKey, j, to, fields)
  if j.queue ~= '' then unlease(j.queue, id) end
  if to == 'DEAD' then
    redis.call('ZADD', K.dlq, now, id)
  else
    redis.call('PEXPIRE', jobKey, resultTtl)
    if j.total ~= '' then
      redis.call('PEXPIRE', K.children(id), resultTtl)
      redis.call('PEXPIRE', K.chunkResults(id), resultTtl)
    end
  end
  appendToLake(id, jobKey, j, to, extra)
end

-- a chunk failed for good: fail its parent at once with the reason and cancel the chunks still
-- waiting; chunks being computed right now finish on their own and are ignored by the parent
local function failParent(child, reason)
  if child.parent_id == '' then return end
  local parentId = child.parent_id
  local parentKey = K.job(parentId)
  local parent = load(parentKey)
  if not parent or FINAL[parent.state] then return end
  finish(parentId, parentKey, parent, 'FAILURE', { 'error', 'chunk ' .. child.chunk_index .. ' failed: ' .. reason })
  for _, sibling in ipairs(redis.call('LRANGE', K.children(parentId), 0, -1)) do
    local siblingKey = K.job(sibling)
    local s = load(siblingKey)
    if s and RUNNABLE[s.state] then
      redis.call('LREM', K.wait(s.queue), 0, sibling)
      redis.call('ZREM', K.delayed(s.queue), sibling)
      finish(sibling, siblingKey, s, 'FAILURE', { 'error', 'cancelled: parent job ' .. parentId .. ' failed' })
    end
  end
end

-- the job `token` holds, as load() reads it; or nil and a code
local function holder(id, token)
  local jobKey = K.job(id)
  local j = load(jobKey)
  if not j then return nil, MISSING end
  if j.token == '' or j.token ~= token then return nil, TOKEN_MISMATCH end
  return jobKey, j
end

-- take a held job back from a holder that is gone (its lease lapsed, its bot is down): to the head
-- of its queue as RETRY, or DEAD when it has used every attempt (failing its parent)
local function reclaim(id, jobKey, j, why)
  local reason = why .. ' (held by ' .. j.handled_by .. ', attempt ' .. j.attempts .. ' of ' .. j.max_attempts .. ')'
  if tonumber(j.attempts) >= tonumber(j.max_attempts) then
    finish(id, jobKey, j, 'DEAD', { 'error', reason })
    failParent(j, reason)
    return 'DEAD'
  end
  setState(id, jobKey, j, 'RETRY', released({ 'error', reason, 'run_at', now }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue)
  return 'RETRY'
end

-- give a held job back to the head of its queue (its holder is stopping); the attempt does not count
local function releaseHeld(id, jobKey, j)
  setState(id, jobKey, j, 'PENDING', released({ 'attempts', tonumber(j.attempts) - 1, 'handled_by', '' }))
  unlease(j.queue, id)
  requeueAtHead(id, j.queue)
end

-- create jobs from rows of ARGV (ROW's fields each) from index `from`; put the queued ones at
-- the tail of their queue (enqueueJobs.lua, enqueueBatch.lua). Answers the number created.
local ROW = { 'id', 'type', 'queue', 'params', 'initiated_by', 'max_attempts', 'parent_id', 'chunk_index', 'total' }
local function enqueueRows(from)
  local jobs = {}
  for at = from, #ARGV, #ROW do
    local j = {}
    for i, f in ipairs(ROW) do j[f] = ARGV[at + i - 1] end
    jobs[#jobs + 1] = j
  end
  local waiting = {}   -- queue -> ids, pushed with one LPUSH each
  local created = {}   -- now, id, ... for the index of all top-level jobs
  for _, j in ipairs(jobs) do
    local fields = { 'HSET', K.job(j.id), 'id', j.id, 'type', j.type, 'queue', j.queue,
      'state', 'PENDING', 'params', j.params, 'attempts', 0, 'max_attempts', j.max_attempts,
      'created_at', now, 'updated_at', now }
    for _, f in ipairs({ 'initiated_by', 'parent_id', 'chunk_index', 'total' }) do
      if j[f] ~= '' then
        fields[#fields + 1] = f
        fields[#fields + 1] = j[f]
      end
    end
    if j.total ~= '' then
      fields[#fields + 1] = 'completed'
      fields[#fields + 1] = 0
    end
    redis.call(unpack(fields))
    if j.parent_id == '' then
      created[#created + 1] = now
      created[#created + 1] = j.id
      indexMove(j.id, false, 'PENDING')
    else
      redis.call('RPUSH', K.children(j.parent_id), j.id)
    end
    if j.queue ~= '' then push(waiting, j.queue, j.id) end
    emit(j.id, 'PENDING', j.total == '' and '' or 0, j.total)
  end
  if #created > 0 then variadic('ZADD', K.jobs, created) end
  for queue, ids in pairs(waiting) do
    variadic('LPUSH', K.wait(queue), ids)
    redis.call('ZADD', K.marker(queue), 0, 'm')
    redis.call('SADD', K.queues, queue)
  end
  return #jobs
end

-- take up to `max` jobs from the head of a queue and hold them under a lease (claimJobs.lua,
-- claimJobForBot.lua); answers {nextRunAt or '', {CLAIM_FIELDS values}, ...}
local function claimFrom(queue, consumer, max, leaseMs, tokenBase)
  local waitKey, delayedKey = K.wait(queue), K.delayed(queue)
  local leaseUntil = now + leaseMs

  -- the head is the right end: push the latest-due first, so the earliest-due is claimed first
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    variadic('ZREM', delayedKey, due)
    for i = #due, 1, -1 do redis.call('RPUSH', waitKey, due[i]) end
  end

  local out = { '' }
  local n = 0
  while n < max do
    local ids = redis.call('RPOP', waitKey, max - n)
    if not ids then break end
    for _, id in ipairs(ids) do
      local jobKey = K.job(id)
      local j = load(jobKey, CLAIM_FIELDS)
      if j and RUNNABLE[j.state] then
        n = n + 1
        local token = tokenBase .. '.' .. n
        j.attempts = tonumber(j.attempts) + 1
        local fields = { 'attempts', j.attempts, 'token', token, 'handled_by', consumer, 'started_at', now }
        if j.run_at ~= '' then
          fields[#fields + 1] = 'run_at'
          fields[#fields + 1] = ''
        end
        setState(id, jobKey, j, 'STARTED', fields)
        lease(queue, id, leaseUntil)
        if j.parent_id ~= '' then
          local parentKey = K.job(j.parent_id)
          local parent = load(parentKey)
          if parent and parent.state == 'PENDING' then
            setState(j.parent_id, parentKey, parent, 'STARTED', { 'started_at', now })
          end
        end
        j.token, j.handled_by, j.run_at, j.attempts = token, consumer, '', tostring(j.attempts)
        local entry = {}
        for i, f in ipairs(CLAIM_FIELDS) do entry[i] = j[f] end
        out[#out + 1] = entry
      end
    end
  end

  if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), 0, 'm') end
  local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if nextDelayed[2] then out[1] = nextDelayed[2] end
  return out
end

-- a held job succeeded (completeJobs.lua, completeBotJob.lua): acknowledge it and record its
-- result; a chunk's result is recorded once per chunk index and the last chunk completes the
-- parent with the sum (a chord). Answers OK, MISSING, TOKEN_MISMATCH or BAD_RESULT.
local function completeJob(id, token, result)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  if j.parent_id ~= '' and not tonumber(result) then return BAD_RESULT end
  finish(id, jobKey, j, 'SUCCESS', { 'result', result })
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
  finish(parentId, parentKey, parent, 'SUCCESS',
    { 'result', string.format('{"prime_count":%.0f,"duration_sec":%.3f}', sum, duration) })
  return OK
end

-- a held job's attempt failed (failJob.lua, failBotJob.lua); where it goes (RETRY at runAt, DEAD
-- or FAILURE) is decided in TypeScript. A chunk that ends in DEAD or FAILURE fails its parent.
local function failJob(id, token, err, target, runAt)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  if target == 'RETRY' then
    setState(id, jobKey, j, 'RETRY', released({ 'error', err, 'run_at', runAt }))
    unlease(j.queue, id)
    if runAt <= now then
      requeueAtHead(id, j.queue)
    else
      redis.call('ZADD', K.delayed(j.queue), runAt, id)
    end
  else
    finish(id, jobKey, j, target, { 'error', err })
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
    if redis.call('EXISTS', K.job(id)) == 0 then return nil, MISSING end
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

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
}

-- codes every script answers with; src/store/redis.ts maps them to typed errors
local OK, MISSING, TOKEN_MISMATCH, BAD_RESULT, CONFLICT, OUT_OF_RANGE = 1, -1, -2, -3, -4, -5

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
-- DEAD, waits in the dead-letter queue
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

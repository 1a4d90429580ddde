--[[ lib.lua: helpers every script starts with (prepended when the script is loaded).
  KEYS[1]  base: the hash-tagged key prefix "{prefix}:" (names mirror src/store/keys.ts)
  ARGV[1]  now (ms): time is an input, never TIME, so tests can control it
  ARGV[2]  resultTtlMs: finished jobs expire this long after they finish
  ARGV[3]  eventRetentionMs: the event log keeps roughly this much history
  Script-specific arguments start at ARGV[4].
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
}

-- codes every script answers with; src/store/redis.ts maps them to typed errors
local OK, MISSING, TOKEN_MISMATCH, BAD_RESULT, CONFLICT = 1, -1, -2, -3, -4

local RUNNABLE = { PENDING = true, RETRY = true }
local HELD = { STARTED = true, PROGRESS = true }
local FINAL = { SUCCESS = true, FAILURE = true, DEAD = true }

-- append a state or progress change to the event log
local function emit(id, state, completed, total)
  redis.call('XADD', K.events, 'MAXLEN', '~', 100000, '*',
    'job', id, 'state', state, 'completed', completed or '', 'total', total or '', 'at', now)
end

-- the fields transitions read, in one call; nil when the job does not exist
local FIELDS = { 'state', 'queue', 'parent_id', 'total', 'completed', 'token', 'attempts',
  'max_attempts', 'chunk_index', 'created_at', 'handled_by' }
local function load(jobKey)
  local v = redis.call('HMGET', jobKey, unpack(FIELDS))
  if not v[1] then return nil end
  local j = {}
  for i, f in ipairs(FIELDS) do j[f] = v[i] or '' end
  return j
end

-- move a job to a new state in one write: the record (with `extra` field/value pairs), the
-- per-state index (top-level jobs only), the event. j is the job as load() read it.
local function setState(id, jobKey, j, to, extra)
  local args = { 'HSET', jobKey, 'state', to, 'updated_at', now }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  redis.call(unpack(args))
  if j.parent_id == '' then
    redis.call('ZREM', K.state(j.state), id)
    redis.call('ZADD', K.state(to), now, id)
  end
  if j.total ~= '' then emit(id, to, j.completed, j.total) else emit(id, to) end
  j.state = to
end

-- put a job at the head of its queue (next to be claimed) and wake a consumer
local function requeueAtHead(id, queue)
  redis.call('RPUSH', K.wait(queue), id)
  redis.call('ZADD', K.marker(queue), 0, 'm')
end

-- fields that end a hold: the token and lease are cleared ('' means not held)
local function released(extra)
  local out = { 'token', '', 'lease_until', '' }
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
  if j.queue ~= '' then redis.call('ZREM', K.active(j.queue), id) end
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

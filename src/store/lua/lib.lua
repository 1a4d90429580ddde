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
  abacus = base .. 'abacus',
}

-- codes every script answers with; src/store/redis.ts maps them to typed errors
local OK, MISSING, TOKEN_MISMATCH, OUT_OF_RANGE = 1, -1, -2, -3

local RUNNABLE = { PENDING = true, RETRY = true }
local HELD = { STARTED = true, PROGRESS = true }
local FINAL = { SUCCESS = true, FAILURE = true, DEAD = true }

-- append a state or progress change to the event log
local function emit(id, state, completed, total)
  redis.call('XADD', K.events, 'MAXLEN', '~', 100000, '*',
    'job', id, 'state', state, 'completed', completed or '', 'total', total or '', 'at', now)
end

-- move a job to a new state: the record, the per-state index (top-level jobs only), the event
local function setState(id, jobKey, from, to)
  redis.call('HSET', jobKey, 'state', to, 'updated_at', now)
  if redis.call('HGET', jobKey, 'parent_id') == '' then
    if from then redis.call('ZREM', K.state(from), id) end
    redis.call('ZADD', K.state(to), now, id)
  end
  local total = redis.call('HGET', jobKey, 'total')
  if total and total ~= '' then
    emit(id, to, redis.call('HGET', jobKey, 'completed'), total)
  else
    emit(id, to)
  end
end

-- put a job at the head of its queue (next to be claimed) and wake a consumer
local function requeueAtHead(id, queue)
  redis.call('RPUSH', K.wait(queue), id)
  redis.call('ZADD', K.marker(queue), 0, 'm')
end

-- the job has reached SUCCESS, FAILURE or DEAD: stop holding it, expire it or keep it in the DLQ
local function finish(id, jobKey, to)
  local queue = redis.call('HGET', jobKey, 'queue')
  if queue and queue ~= '' then
    redis.call('ZREM', K.active(queue), id)
    redis.call('ZREM', K.delayed(queue), id)
  end
  redis.call('HSET', jobKey, 'finished_at', now)
  redis.call('HDEL', jobKey, 'token', 'lease_until')
  if to == 'DEAD' then
    redis.call('ZADD', K.dlq, now, id)
  else
    redis.call('PEXPIRE', jobKey, resultTtl)
    if redis.call('HGET', jobKey, 'total') ~= '' then
      redis.call('PEXPIRE', K.children(id), resultTtl)
      redis.call('PEXPIRE', K.chunkResults(id), resultTtl)
    end
  end
end

-- a chunk failed for good: fail its parent at once with the reason and cancel the chunks still
-- waiting; chunks being computed right now finish on their own and are ignored by the parent
local function failParent(childId, childKey, reason)
  local parentId = redis.call('HGET', childKey, 'parent_id')
  if not parentId or parentId == '' then return end
  local parentKey = K.job(parentId)
  local pstate = redis.call('HGET', parentKey, 'state')
  if not pstate or FINAL[pstate] then return end
  local index = redis.call('HGET', childKey, 'chunk_index')
  redis.call('HSET', parentKey, 'error', 'chunk ' .. index .. ' failed: ' .. reason)
  setState(parentId, parentKey, pstate, 'FAILURE')
  finish(parentId, parentKey, 'FAILURE')
  for _, sibling in ipairs(redis.call('LRANGE', K.children(parentId), 0, -1)) do
    local siblingKey = K.job(sibling)
    local sstate = redis.call('HGET', siblingKey, 'state')
    if sstate and RUNNABLE[sstate] then
      local queue = redis.call('HGET', siblingKey, 'queue')
      redis.call('LREM', K.wait(queue), 0, sibling)
      redis.call('HSET', siblingKey, 'error', 'cancelled: parent job ' .. parentId .. ' failed')
      setState(sibling, siblingKey, sstate, 'FAILURE')
      finish(sibling, siblingKey, 'FAILURE')
    end
  end
end

-- check that `token` holds job `id`; answers the job key or nil and a code
local function holder(id, token)
  local jobKey = K.job(id)
  local current = redis.call('HGET', jobKey, 'token')
  if not current then
    if redis.call('EXISTS', jobKey) == 0 then return nil, MISSING end
    return nil, TOKEN_MISMATCH
  end
  if current ~= token then return nil, TOKEN_MISMATCH end
  return jobKey, OK
end

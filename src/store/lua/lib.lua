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
local OK, MISSING, TOKEN_MISMATCH = 1, -1, -2
-- ... and the bots' (through the API): the job is not the one the bot holds; no such bot; the
-- bot already holds a job
local NOT_HOLDER, BOT_MISSING, BOT_BUSY = -3, -4, -5

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

-- ---- the datalake: settings in K.config (README "Datalake"), defaults: records all, 30 days ----
local DAY_MS = 86400000

-- days since 1970-01-01 → year, month, day (proleptic Gregorian; Hinnant's civil_from_days)
local function civilFromDays(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, doy - math.floor((153 * mp + 2) / 5) + 1
end

-- a time (ms) in ISO 8601, UTC, as JavaScript's toISOString writes it
local function isoTime(ms)
  local days = math.floor(ms / DAY_MS)
  local rest = ms - days * DAY_MS
  local y, m, d = civilFromDays(days)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rest / 3600000),
    math.floor(rest / 60000) % 60, math.floor(rest / 1000) % 60, rest % 1000)
end

local function jsonText(s)
  if not s or s == '' then return 'null' end
  return cjson.encode(s)
end

-- does the lake record finished jobs of this type? ('all', 'none' or 'type,type')
local function lakeRecords(jobType)
  local records = redis.call('HGET', K.config, 'datalake') or 'all'
  if records == 'all' then return jobType ~= 'primes_chunk' end
  if records == 'none' then return false end
  return string.find(',' .. records .. ',', ',' .. jobType .. ',', 1, true) ~= nil
end

-- append a finished top-level job to its UTC day (fields as src/core/datalake.ts lakeRecordLine)
local function appendToLake(id, jobKey, to)
  local f = redis.call('HMGET', jobKey, 'parent_id', 'type', 'queue', 'result', 'error', 'attempts',
    'initiated_by', 'handled_by', 'created_at', 'started_at')
  if f[1] ~= '' or not lakeRecords(f[2]) then return end
  local started = tonumber(f[10])
  local duration = started and (now - started)
  local record = '{"job_id":' .. jsonText(id) .. ',"type":' .. jsonText(f[2]) .. ',"queue":' .. jsonText(f[3])
    .. ',"status":' .. jsonText(to) .. ',"result":' .. (f[4] ~= '' and f[4] or 'null')
    .. ',"error":' .. jsonText(f[5]) .. ',"attempts":' .. f[6]
    .. ',"initiated_by":' .. jsonText(f[7]) .. ',"handled_by":' .. jsonText(f[8])
    .. ',"created_at":' .. jsonText(isoTime(tonumber(f[9])))
    .. ',"started_at":' .. (started and jsonText(isoTime(started)) or 'null')
    .. ',"finished_at":' .. jsonText(isoTime(now))
    .. ',"duration_ms":' .. (duration and string.format('%d', duration) or 'null') .. '}'
  local day = string.sub(isoTime(now), 1, 10)
  local stats = K.lakeStats(day)
  redis.call('RPUSH', K.lake(day), record)
  redis.call('HINCRBY', stats, 'total', 1)
  redis.call('HINCRBY', stats, to == 'SUCCESS' and 'success' or 'failure', 1)
  if duration then
    redis.call('HINCRBY', stats, 'duration_ms_sum', duration)
    redis.call('HINCRBY', stats, 'duration_count', 1)
  end
  redis.call('ZADD', K.lakeDays, math.floor(now / DAY_MS) * DAY_MS, day)
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
  appendToLake(id, jobKey, to)
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

-- take a held job back from a holder that is gone (its lease lapsed, its bot is down): to the head
-- of its queue as RETRY, or DEAD when it has used every attempt (failing its parent)
local function reclaim(id, jobKey, state, why)
  local f = redis.call('HMGET', jobKey, 'attempts', 'max_attempts', 'handled_by', 'queue')
  local attempts, maxAttempts, queue = tonumber(f[1]), tonumber(f[2]), f[4]
  local reason = why .. ' (held by ' .. f[3] .. ', attempt ' .. attempts .. ' of ' .. maxAttempts .. ')'
  redis.call('HSET', jobKey, 'error', reason)
  if attempts >= maxAttempts then
    setState(id, jobKey, state, 'DEAD')
    finish(id, jobKey, 'DEAD')
    failParent(id, jobKey, reason)
    return 'DEAD'
  end
  redis.call('HDEL', jobKey, 'token', 'lease_until')
  redis.call('HSET', jobKey, 'run_at', now)
  redis.call('ZREM', K.active(queue), id)
  setState(id, jobKey, state, 'RETRY')
  requeueAtHead(id, queue)
  return 'RETRY'
end

-- give a held job back to the head of its queue (its holder is stopping); the attempt does not count
local function releaseHeld(id, jobKey)
  local queue = redis.call('HGET', jobKey, 'queue')
  redis.call('HINCRBY', jobKey, 'attempts', -1)
  redis.call('HDEL', jobKey, 'token', 'lease_until')
  redis.call('HSET', jobKey, 'handled_by', '')
  redis.call('ZREM', K.active(queue), id)
  setState(id, jobKey, redis.call('HGET', jobKey, 'state'), 'PENDING')
  requeueAtHead(id, queue)
end

-- take up to `max` jobs from the head of a queue and hold them under a lease (claimJobs.lua)
local function claimFrom(queue, consumer, max, leaseMs, tokenBase)
  local waitKey, activeKey, delayedKey = K.wait(queue), K.active(queue), K.delayed(queue)

  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)) do
    redis.call('ZREM', delayedKey, id)
    redis.call('RPUSH', waitKey, id)
  end

  local out = { '' }
  local n = 0
  while n < max do
    local id = redis.call('RPOP', waitKey)
    if not id then break end
    local jobKey = K.job(id)
    local state = redis.call('HGET', jobKey, 'state')
    if state and RUNNABLE[state] then
      n = n + 1
      local token = tokenBase .. '.' .. n
      redis.call('HINCRBY', jobKey, 'attempts', 1)
      redis.call('HSET', jobKey, 'token', token, 'handled_by', consumer, 'started_at', now,
        'lease_until', now + leaseMs, 'run_at', '')
      redis.call('ZADD', activeKey, now + leaseMs, id)
      setState(id, jobKey, state, 'STARTED')
      local parentId = redis.call('HGET', jobKey, 'parent_id')
      if parentId ~= '' then
        local parentKey = K.job(parentId)
        if redis.call('HGET', parentKey, 'state') == 'PENDING' then
          redis.call('HSET', parentKey, 'started_at', now)
          setState(parentId, parentKey, 'PENDING', 'STARTED')
        end
      end
      local entry = { id, token }
      for _, v in ipairs(redis.call('HGETALL', jobKey)) do entry[#entry + 1] = v end
      out[#out + 1] = entry
    end
  end

  if redis.call('LLEN', waitKey) > 0 then redis.call('ZADD', K.marker(queue), 0, 'm') end
  local nextDelayed = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if nextDelayed[2] then out[1] = nextDelayed[2] end
  return out
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

-- holder() for a consumer naming its token, or for a bot (botId given): the token its record keeps
local function holderOrBot(id, token, botId)
  if botId then
    local code
    token, code = botToken(botId, id)
    if not token then return nil, code end
  end
  return holder(id, token)
end

-- a bot is done with the job it held: forget it and count the outcome ('jobs_done', 'jobs_failed')
local function botDone(botId, counter)
  local botKey = K.bot(botId)
  redis.call('HSET', botKey, 'current_job', '', 'job_token', '')
  redis.call('HINCRBY', botKey, counter, 1)
end

-- lib-bots.lua (after lib-queue.lua): the bots' transitions, which name the bot and never a
-- claim token, and the retries a person asks for.

-- ---- bots: they act through the API, which names the bot, never a claim token ----

-- the claim token bot `botId` holds job `id` with: its record keeps it; it never leaves Redis
local function botToken(botId, id)
  local held = redis.call('HMGET', K.bot(botId), 'current_job', 'job_token')
  if not held[1] then return nil, BOT_MISSING end
  if held[1] ~= id then
    local jobKey = jobKeyFor(id)
    local state = jobKey and recordState(jobKey)
    if not isJobState(state) then return nil, MISSING end
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
-- finish and holder cleared, its last attempt kept in its attempts_log (retryDeadJob, retryFailedJob)
local function requeueAnew(id, jobKey, j)
  local log = logAttempt(jobKey, j, j.state, redis.call('HGET', jobKey, 'error') or '')
  setState(id, jobKey, j, 'PENDING', { 'attempts', 0, 'error', '', 'finished_at', '', 'handled_by', '', 'run_at', '',
    'attempts_log', log })
  if j.group ~= '' then
    pushGrouped(id, j.queue, j.priority, j.cpu, j.group, false)
  else
    redis.call('LPUSH', waitListOf(j.queue, j.priority, j.cpu), id)
    markReady(j.queue, j.priority, j.cpu)
  end
  redis.call('ZADD', markerOf(j.queue, j.cpu), 0, 'm')
  -- its idempotency key lives as long as the job again (finish gave it the result TTL)
  if j.idem_key ~= '' then redis.call('PERSIST', K.idem(j.idem_key)) end
  flush()
  return OK
end

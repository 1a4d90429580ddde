--[[ claimJobForBot: a bot takes one job (the bots' POST /jobs/claim): claimJobs with max 1 and
  the bot id as consumer, and the bot's record keeps the job and its claim token, in one step.
  A bot holds one job at a time (of either kind: a CPU job when no other waits); a claim is also
  a sign of life.
  ARGV[4] bot id  ARGV[5] queue  ARGV[6] leaseMs  ARGV[7] token base
  Returns  {OK, now} (no job), {OK, now, {claim values}, {schedule, slot}} (lib.lua's claimFrom; the
           schedule that made the job and its slot, which a bot's answer shows as GET /jobs/:id
           does), {BOT_MISSING} or {BOT_BUSY, job id}
]]
local botId, queue, leaseMs, tokenBase = ARGV[4], ARGV[5], argNumber(ARGV[6], 'leaseMs'), ARGV[7]
local botKey = K.bot(botId)
local held = redis.call('HMGET', botKey, 'current_job', 'job_token')
if not held[1] then return { BOT_MISSING } end
if held[1] ~= '' and redis.call('HGET', K.job(held[1]), 'token') == held[2] then return { BOT_BUSY, held[1] } end

redis.call('HSET', botKey, 'last_heartbeat', nowStr, 'status', 'up', 'down_at', '', 'current_job', '', 'job_token', '')
redis.call('ZADD', K.botsUp, nowStr, botId)
-- one job of either kind (a CPU one when no other waits), with its trace (the API passes it to the bot)
local entry = claimFrom(queue, botId, 1, -1, leaseMs, tokenBase, true)[4]
flush()
if not entry then return { OK, nowStr } end
redis.call('HSET', botKey, 'current_job', entry[CLAIM.id], 'job_token', entry[CLAIM.token])
return { OK, nowStr, entry, redis.call('HMGET', K.job(entry[CLAIM.id]), 'schedule', 'slot') }

--[[ failBotJob: the bot holding a job reports it failed (the bots' POST /jobs/:id/fail):
  lib.lua's failJob with the claim token the bot's record keeps; the bot is counted
  (jobs_failed) and free again, in the same step.
  ARGV[4] id  ARGV[5] bot id  ARGV[6] error  ARGV[7] target: RETRY | DEAD | FAILURE  ARGV[8] delayMs (RETRY)
  or target HOLD: the bot's command met the limit of what it calls (rate_limited): the job is
  given back, its attempt not counted, and its group (or queue) held ARGV[8] ms (releaseHolding);
  the bot is free again, counted in neither jobs_done nor jobs_failed.
  Returns  OK, MISSING, TOKEN_MISMATCH, NOT_HOLDER or BOT_MISSING.
]]
if ARGV[7] == 'HOLD' then
  local token, code = botToken(ARGV[5], ARGV[4])
  if not token then return code end
  code = releaseHolding(ARGV[4], token, argNumber(ARGV[8], 'holdMs'))
  if code == OK then redis.call('HSET', K.bot(ARGV[5]), 'current_job', '', 'job_token', '') end
  flush()
  return code
end
local code = forBot(ARGV[5], ARGV[4], 'jobs_failed', failJob, ARGV[6], ARGV[7], argNumber(ARGV[8], 'delayMs'))
flush()
return code

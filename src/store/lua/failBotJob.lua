--[[ failBotJob: the bot holding a job reports it failed (the bots' POST /jobs/:id/fail):
  lib.lua's failJob with the claim token the bot's record keeps; the bot is counted
  (jobs_failed) and free again, in the same step.
  ARGV[4] id  ARGV[5] bot id  ARGV[6] error  ARGV[7] target: RETRY | DEAD | FAILURE  ARGV[8] delayMs (RETRY)
  Returns  OK, MISSING, TOKEN_MISMATCH, NOT_HOLDER or BOT_MISSING.
]]
local code = forBot(ARGV[5], ARGV[4], 'jobs_failed', failJob, ARGV[6], ARGV[7], argNumber(ARGV[8], 'delayMs'))
flush()
return code

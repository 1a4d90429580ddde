--[[ completeBotJob: the bot holding a job reports it done (the bots' POST /jobs/:id/complete):
  lib.lua's completeJob with the claim token the bot's record keeps; the bot is counted
  (jobs_done) and free again, in the same step.
  ARGV[4] id  ARGV[5] bot id  ARGV[6] result (JSON)  ARGV[7] the largest result a SUCCESS event
  carries (0: none; lib.lua's emit)
  Returns  OK, MISSING, TOKEN_MISMATCH, BAD_RESULT, NOT_HOLDER or BOT_MISSING.
]]
eventResultMax = argNumber(ARGV[7], 'the event result\'s size')
local code = forBot(ARGV[5], ARGV[4], 'jobs_done', completeJob, ARGV[6])
flush()
return code

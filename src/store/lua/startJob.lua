--[[ startJob: the bot holding a job begins the work (the bots' POST /jobs/:id/start):
  STARTED → PROGRESS, started_at now. Starting a job already started is a no-op (a retried request).
  ARGV[4] id  ARGV[5] bot id
  Returns  OK, MISSING, TOKEN_MISMATCH, NOT_HOLDER or BOT_MISSING.
]]
local function startHeld(id, token)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  if j.state == 'STARTED' then setState(id, jobKey, j, 'PROGRESS', { 'started_at', now }) end
  return OK
end
local code = forBot(ARGV[5], ARGV[4], nil, startHeld)
flush()
return code

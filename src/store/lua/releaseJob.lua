--[[ releaseJob: give a held job back (a consumer shutting down); the attempt does not count.
  ARGV[4] id  ARGV[5] token
  Returns  OK, MISSING or TOKEN_MISMATCH.
]]
local id, token = ARGV[4], ARGV[5]
local jobKey, j = holder(id, token)
if not jobKey then return j end
releaseHeld(id, jobKey, j)
flush()
return OK

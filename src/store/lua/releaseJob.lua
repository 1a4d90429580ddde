--[[ releaseJob: give a held job back (a consumer shutting down); the attempt does not count.
  ARGV[4] id  ARGV[5] token
  ARGV[6] holdMs ('' for none): its handler met the limit of what it calls (rate_limited): its
          group (or, with none, its queue in this shard) starts nothing for that long (holdFlow)
  Returns  OK, MISSING or TOKEN_MISMATCH; with a holdMs, {OK, queue, group ('' for none)} once released.
]]
local id, token = ARGV[4], ARGV[5]
if ARGV[6] and ARGV[6] ~= '' then
  local code, j = releaseHolding(id, token, argNumber(ARGV[6], 'holdMs'))
  if code ~= OK then return code end
  flush()
  return { OK, j.queue, j.group }
end
local jobKey, j = holder(id, token)
if not jobKey then return j end
releaseHeld(id, jobKey, j)
flush()
return OK

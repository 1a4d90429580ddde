--[[ renewLease: the holder of a job is alive; push its lease deadline out.
  ARGV[4] id  ARGV[5] token  ARGV[6] leaseMs
  Returns  OK, MISSING or TOKEN_MISMATCH (the lease already lapsed and was taken over).
]]
local id, token, leaseMs = ARGV[4], ARGV[5], argNumber(ARGV[6], 'leaseMs')
local jobKey, j = holder(id, token)
if not jobKey then return j end
redis.call('ZADD', K.active(j.queue), 'XX', now + leaseMs, id)
return OK

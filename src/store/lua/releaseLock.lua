--[[ releaseLock: let go of a lock, only when `holder` has it (compare-and-delete), so another
  can take it at once (a leader stepping down).
  ARGV[4] name  ARGV[5] holder
  Returns  1 when released, 0 when it was not ours.
]]
local lockKey = K.lock(ARGV[4])
if redis.call('GET', lockKey) ~= ARGV[5] then return 0 end
redis.call('DEL', lockKey)
return 1

--[[ holdLock: take a lock that is free, or renew it when `holder` already has it; never take it
  from another holder (compare-and-renew). The scheduler's leader lease.
  ARGV[4] name  ARGV[5] holder  ARGV[6] ttlMs
  Returns  1 when `holder` holds the lock for ttlMs more, 0 when someone else does.
]]
local lockKey, holderName, ttl = K.lock(ARGV[4]), ARGV[5], ARGV[6]
local current = redis.call('GET', lockKey)
if not current then
  redis.call('SET', lockKey, holderName, 'PX', ttl)
  return 1
end
if current ~= holderName then return 0 end
redis.call('PEXPIRE', lockKey, ttl)
return 1

--[[ spendBudget: take a cost from a quota's budget, a token bucket shared by every API node
  (src/roles/api/quotas.ts: a token's CPU budget). It holds at most `capacity` and refills
  `capacity` every windowMs, continuously, by Redis's clock; a bucket never seen is full.
  ARGV[4] bucket  ARGV[5] cost (a negative one gives back)  ARGV[6] capacity  ARGV[7] windowMs
  Returns  {allowed (1 or 0), retryAfterMs, remaining}: allowed when the bucket holds the cost (then
           it is taken); retryAfterMs, when refused, how long until it holds it; remaining, what it
           holds after this, rounded down. The key expires once it would be full again.
]]
local key = K.budget(ARGV[4])
local cost, capacity, windowMs = argNumber(ARGV[5], 'cost'), argNumber(ARGV[6], 'capacity'), argNumber(ARGV[7], 'windowMs')
local f = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(f[1]) or capacity
local at = tonumber(f[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / windowMs)
local allowed, retryAfter = 1, 0
if cost > 0 and tokens < cost then
  allowed = 0
  retryAfter = math.ceil((cost - tokens) * windowMs / capacity)
else
  tokens = math.min(capacity, tokens - cost)
end
redis.call('HSET', key, 'tokens', string.format('%.3f', tokens), 'at', nowStr)
redis.call('PEXPIRE', key, math.max(1, math.ceil((capacity - tokens) * windowMs / capacity)))
return { allowed, retryAfter, math.floor(tokens) }

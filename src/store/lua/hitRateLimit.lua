--[[ hitRateLimit: count one request against each of its rate-limit buckets (a client IP, a
  token), a sliding window each, in one atomic step shared by every API node.
  ARGV[4] windowMs: the window (ms)
  ARGV[5] max: requests a bucket may make in any window
  ARGV[6] member: a name for this request, unique across nodes
  ARGV[7..] the buckets
  Returns  {allowed (1 or 0), retryAfterMs, remaining}. A bucket is a sorted set of the times of
           the requests it let through (a sliding log): those older than the window are dropped,
           then the request is let through when every bucket holds fewer than max, and counted in
           all of them; a refused request is counted in none. retryAfterMs: when the fullest
           bucket has room again; remaining: what the fullest bucket has left after this request.
]]
local windowMs = argNumber(ARGV[4], 'windowMs')
local max = argNumber(ARGV[5], 'max')
local member = ARGV[6]
local allowed, retryAfter, remaining = 1, 0, max

for i = 7, #ARGV do
  local bucket = K.rate(ARGV[i])
  redis.call('ZREMRANGEBYSCORE', bucket, '-inf', now - windowMs)
  local count = redis.call('ZCARD', bucket)
  if count >= max then
    allowed = 0
    -- room comes back when the (count - max + 1)th oldest request leaves the window
    local oldest = redis.call('ZRANGE', bucket, count - max, count - max, 'WITHSCORES') -- {member, score}
    local wait = (tonumber(oldest[2]) or now) + windowMs - now
    if wait > retryAfter then retryAfter = wait end
    remaining = 0
  elseif max - count - 1 < remaining then
    remaining = max - count - 1
  end
end

if allowed == 1 then
  for i = 7, #ARGV do
    local bucket = K.rate(ARGV[i])
    redis.call('ZADD', bucket, now, member)
    redis.call('PEXPIRE', bucket, windowMs)
  end
end
return { allowed, retryAfter, remaining }

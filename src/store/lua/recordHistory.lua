--[[ recordHistory: add to and set fields of the history bucket that holds now (the dashboard's
  charts, src/core/history.ts). The bucket is a hash named by its start, kept keepMs after each
  write (PEXPIRE), so the history is bounded by time whoever writes it.
  ARGV[4] bucketMs  ARGV[5] keepMs  ARGV[6] adds: how many field/increment pairs follow
  ARGV[7..] `adds` pairs of field, increment (HINCRBY), then pairs of field, value (HSET)
  Returns  the bucket's start (ms).
]]
local bucketMs = argNumber(ARGV[4], 'bucketMs')
local keepMs = ARGV[5]
local adds = argNumber(ARGV[6], 'adds')
local start = now - (now % bucketMs)
-- keys.ts's history(start)
local bucketKey = base .. 'history:' .. string.format('%d', start)
local i = 7
for _ = 1, adds do
  redis.call('HINCRBY', bucketKey, ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i < #ARGV then
  redis.call('HSET', bucketKey, unpack(ARGV, i, #ARGV))
end
redis.call('PEXPIRE', bucketKey, keepMs)
return start

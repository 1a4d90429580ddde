--[[ flowOutbox: a shard's flow outbox entries written at least ARGV[4] ms ago (0: all), oldest first,
  at most ARGV[5] (docs/flows.md "On a Redis Cluster"); ARGV[6..] entries delivered, removed first.
  Returns  {entries, their ages in ms}
]]
if #ARGV >= 6 then variadic('ZREM', K.flowOutbox, { unpack(ARGV, 6) }) end
local got = redis.call('ZRANGE', K.flowOutbox, '-inf', now - argNumber(ARGV[4], 'graceMs'), 'BYSCORE', 'LIMIT', 0,
  argNumber(ARGV[5], 'limit'), 'WITHSCORES')
local entries, ages = {}, {}
for i = 1, #got, 2 do
  entries[#entries + 1] = got[i]
  ages[#ages + 1] = now - tonumber(got[i + 1])
end
return { entries, ages }

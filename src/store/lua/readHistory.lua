--[[ readHistory: the history buckets that start in the last windowMs (see recordHistory).
  ARGV[4] bucketMs  ARGV[5] windowMs
  Returns  a flat list, oldest first, of each bucket that holds anything: its start (ms, a
           string), then its fields as HGETALL answers them.
]]
local bucketMs = argNumber(ARGV[4], 'bucketMs')
local windowMs = argNumber(ARGV[5], 'windowMs')
local last = now - (now % bucketMs)
local from = now - windowMs
local out = {}
for start = last - bucketMs * math.floor(windowMs / bucketMs), last, bucketMs do
  if start > from then
    local fields = redis.call('HGETALL', base .. 'history:' .. string.format('%d', start))
    if #fields > 0 then
      out[#out + 1] = string.format('%d', start)
      out[#out + 1] = fields
    end
  end
end
return out

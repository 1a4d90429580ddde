--[[ pruneDatalake: drop the datalake days older than the retention (K.config
  datalake_retention_days, 30 by default): today and that many days before it are kept.
  Returns  the days dropped.
]]
local retention = tonumber(redis.call('HGET', K.config, 'datalake_retention_days')) or 30
local cutoff = math.floor(now / DAY_MS) * DAY_MS - retention * DAY_MS
local old = redis.call('ZRANGEBYSCORE', K.lakeDays, '-inf', '(' .. cutoff)
for _, day in ipairs(old) do
  redis.call('DEL', K.lake(day), K.lakeStats(day))
  redis.call('ZREM', K.lakeDays, day)
end
return old

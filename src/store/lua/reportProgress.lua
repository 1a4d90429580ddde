--[[ reportProgress: a held job's handler says how far it is (ctx.progress): STARTED → PROGRESS at
  the first report (a state of its own for work under way, as seed 002's lifecycle says); checked like renewLease
  (only the holder's token may write it) and written beside a prime count's progress fields
  (hp_completed, hp_total: a parent's `total` means it has chunks), with an event of its state and
  the progress, so the SSE streams and `wizard watch` see it.
  ARGV[4] id  ARGV[5] token  ARGV[6] completed  ARGV[7] total
  Returns  OK, MISSING, TOKEN_MISMATCH or CANCELLED.
]]
local id, token, completed, total = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local jobKey, j = holder(id, token)
if not jobKey then return j end
if j.state == 'STARTED' then
  -- the first report moves it to PROGRESS, as a prime count's first chunk does its parent; the
  -- move's event carries the progress
  j.completed, j.total = completed, total
  setState(id, jobKey, j, 'PROGRESS', { 'hp_completed', completed, 'hp_total', total })
else
  redis.call('HSET', jobKey, 'hp_completed', completed, 'hp_total', total, 'updated_at', nowStr)
  emit(id, j.state, completed, total)
end
flush()
return OK

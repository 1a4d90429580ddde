--[[ reportProgress: a held job's handler says how far it is (ctx.progress); checked like renewLease
  (only the holder's token may write it) and written beside a prime count's progress fields
  (hp_completed, hp_total: a parent's `total` means it has chunks), with an event of its state and
  the progress, so the SSE streams and `wizard watch` see it.
  ARGV[4] id  ARGV[5] token  ARGV[6] completed  ARGV[7] total
  Returns  OK, MISSING, TOKEN_MISMATCH or CANCELLED.
]]
local id, token, completed, total = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local jobKey, j = holder(id, token)
if not jobKey then return j end
redis.call('HSET', jobKey, 'hp_completed', completed, 'hp_total', total, 'updated_at', nowStr)
emit(id, j.state, completed, total)
flush()
return OK

--[[ enqueueScheduled: enqueueBatch for a schedule's occurrence: the jobs are created only when the
  once-key of (schedule, slot) is new, set with NX in this same step, and each job's record names
  the schedule and the slot, so the slot is made once however many schedulers run.
  ARGV[4] once-key  ARGV[5] its TTL (ms)  ARGV[6] schedule  ARGV[7] slot  ARGV[8...] the rows' size and the rows
  Returns  {the number of jobs created, now}: {0} when the key was already used.
]]
if not redis.call('SET', K.once(ARGV[4]), nowStr, 'NX', 'PX', ARGV[5]) then return { 0 } end
local created = enqueueRows(8)
for at = 8, #ARGV - 1, (rowsSize(ARGV[8])) do -- ARGV[8]: the rows' size
  redis.call('HSET', K.job(ARGV[at + ROW.id]), 'schedule', ARGV[6], 'slot', ARGV[7])
end
flush()
return { created, nowStr }

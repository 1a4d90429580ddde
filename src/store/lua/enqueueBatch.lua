--[[ enqueueBatch: enqueueJobs, once per key: the jobs are created only when the once-key is new,
  set with NX in this same step, so a scheduler's batch slot is filled once however many
  schedulers (or leaders, for a moment) run.
  ARGV[4] once-key  ARGV[5] its TTL (ms)  ARGV[6...] the rows' size and the rows, as enqueueJobs takes them
  Returns  {the number of jobs created, now (their created_at)}: {0} when the key was already used.
]]
if not redis.call('SET', K.once(ARGV[4]), nowStr, 'NX', 'PX', ARGV[5]) then return { 0 } end
local created = enqueueRows(6)
flush()
return { created, nowStr }

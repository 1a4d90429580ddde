--[[ enqueueJobs: create jobs; put the queued ones at the tail of their queue.
  ARGV[4]  JSON array of jobs: {id, type, queue, params, initiated_by, max_attempts,
           parent_id, chunk_index, total}; params is a JSON string. A job with queue "" is a
           parent (a prime-count job): it is not queued, its children carry its id.
  ARGV[5], ARGV[6] (optional) a once-key and its TTL (ms): the jobs are created only when that
           key is new, so a scheduler's batch slot is filled once however many schedulers run
  Returns  the number of jobs created. One atomic step: a flow's chunks all appear at once.
]]
local jobs = cjson.decode(ARGV[4])
if ARGV[5] and not redis.call('SET', K.once(ARGV[5]), now, 'NX', 'PX', ARGV[6]) then return 0 end
local woken = {}
for _, j in ipairs(jobs) do
  local completed = j.total == '' and '' or 0
  redis.call('HSET', K.job(j.id),
    'id', j.id, 'type', j.type, 'queue', j.queue, 'state', 'PENDING', 'params', j.params,
    'attempts', 0, 'max_attempts', j.max_attempts, 'initiated_by', j.initiated_by,
    'handled_by', '', 'checked_by', '', 'parent_id', j.parent_id, 'chunk_index', j.chunk_index,
    'completed', completed, 'total', j.total, 'token', '', 'lease_until', '',
    'result', '', 'error', '', 'created_at', now, 'updated_at', now,
    'started_at', '', 'finished_at', '', 'run_at', '')
  if j.parent_id == '' then
    redis.call('ZADD', K.jobs, now, j.id)
    redis.call('ZADD', K.state('PENDING'), now, j.id)
  else
    redis.call('RPUSH', K.children(j.parent_id), j.id)
  end
  if j.queue ~= '' then
    redis.call('LPUSH', K.wait(j.queue), j.id)
    woken[j.queue] = true
  end
  emit(j.id, 'PENDING', completed, j.total)
end
for queue in pairs(woken) do
  redis.call('ZADD', K.marker(queue), 0, 'm')
  redis.call('SADD', K.queues, queue)
end
return #jobs

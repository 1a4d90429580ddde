--[[ enqueueJobs: create jobs; put the queued ones at the tail of their queue.
  ARGV[4..] per job, 9 values: id, type, queue, params (JSON), initiated_by, max_attempts,
           parent_id, chunk_index, total (JOB_ROW_FIELDS in src/store/common.ts). A job with
           queue "" is a parent (a prime-count job): it is not queued, its children carry its id.
  Returns  the number of jobs created. One atomic step: a flow's chunks all appear at once.
  Only fields with a value are written; a missing field reads as '' (lib.lua's load()).
]]
local ROW = { 'id', 'type', 'queue', 'params', 'initiated_by', 'max_attempts', 'parent_id', 'chunk_index', 'total' }
local jobs = {}
for at = 4, #ARGV, #ROW do
  local j = {}
  for i, f in ipairs(ROW) do j[f] = ARGV[at + i - 1] end
  jobs[#jobs + 1] = j
end
local waiting = {}   -- queue -> ids, pushed with one LPUSH each
local created = {}   -- now, id, ... for the index of all top-level jobs
for _, j in ipairs(jobs) do
  local fields = { 'HSET', K.job(j.id), 'id', j.id, 'type', j.type, 'queue', j.queue,
    'state', 'PENDING', 'params', j.params, 'attempts', 0, 'max_attempts', j.max_attempts,
    'created_at', now, 'updated_at', now }
  for _, f in ipairs({ 'initiated_by', 'parent_id', 'chunk_index', 'total' }) do
    if j[f] ~= '' then
      fields[#fields + 1] = f
      fields[#fields + 1] = j[f]
    end
  end
  if j.total ~= '' then
    fields[#fields + 1] = 'completed'
    fields[#fields + 1] = 0
  end
  redis.call(unpack(fields))
  if j.parent_id == '' then
    created[#created + 1] = now
    created[#created + 1] = j.id
    indexMove(j.id, false, 'PENDING')
  else
    redis.call('RPUSH', K.children(j.parent_id), j.id)
  end
  if j.queue ~= '' then push(waiting, j.queue, j.id) end
  emit(j.id, 'PENDING', j.total == '' and '' or 0, j.total)
end
if #created > 0 then variadic('ZADD', K.jobs, created) end
for queue, ids in pairs(waiting) do
  variadic('LPUSH', K.wait(queue), ids)
  redis.call('ZADD', K.marker(queue), 0, 'm')
end
flush()
return #jobs

--[[ enqueueJobs: create jobs; put the queued ones at the tail of their queue.
  ARGV[4..] per job, 9 values: id, type, queue, params (JSON), initiated_by, max_attempts,
           parent_id, chunk_index, total (JOB_ROW_FIELDS in src/store/common.ts). A job with
           queue "" is a parent (a prime-count job): it is not queued, its children carry its id.
  Returns  {the number of jobs created, now}: now is their created_at. One atomic step: a flow's chunks all appear at once.
  Only fields with a value are written; a missing field reads as '' (lib.lua's load()).
]]
local created = enqueueRows(4)
flush()
return { created, nowStr }

--[[ cancelJob: end a job that has not finished as CANCELLED (POST /jobs/:id/cancel). A waiting or
  delayed job leaves its queue and never runs; a held one is released from its lease and its token
  cleared, so its holder's renewal, result or failure is refused (CANCELLED: the worker aborts its
  handler, a bot learns it at its next call); a prime count's unfinished chunks are cancelled
  with it. A chunk's id cancels its prime count.
  ARGV[4] id
  Returns  {OK}, {MISSING} or {CONFLICT, state} when the job has finished.
]]
local id = ARGV[4]
local jobKey = jobKeyFor(id)
local j = load(jobKey)
if not j then return { MISSING } end
if j.parent_id ~= '' then
  id = j.parent_id
  jobKey = jobKeyFor(id)
  j = load(jobKey)
  if not j then return { MISSING } end
end
if FINAL[j.state] then return { CONFLICT, j.state } end
cancel(id, jobKey, j)
flush()
return { OK, id }

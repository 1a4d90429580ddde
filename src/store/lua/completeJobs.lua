--[[ completeJobs: held jobs succeeded. Acknowledge each and record its result in one step.
  ARGV[4] count, then per job: id, token, result (JSON)
  Returns  one code per job: OK, MISSING or TOKEN_MISMATCH (a late result from a consumer whose
  lease was taken over is refused, never applied twice), or BAD_RESULT for a chunk whose result
  is not a number (checked before anything is written).
  A chunk's result is recorded once per chunk index; the last chunk completes the parent with
  the sum of the chunk results (a chord), in this same step. The adapter sends the completions
  of one event-loop turn together: one round trip for many jobs.
]]
local function completeJob(id, token, result)
  local jobKey, j = holder(id, token)
  if not jobKey then return j end
  if j.parent_id ~= '' and not tonumber(result) then return BAD_RESULT end
  finish(id, jobKey, j, 'SUCCESS', { 'result', result })
  if j.parent_id == '' then return OK end

  local parentId = j.parent_id
  local parentKey = K.job(parentId)
  local parent = load(parentKey)
  if not parent or FINAL[parent.state] then return OK end
  if redis.call('HSETNX', K.chunkResults(parentId), j.chunk_index, result) == 0 then return OK end
  parent.completed = redis.call('HINCRBY', parentKey, 'completed', 1)
  if parent.completed < tonumber(parent.total) then
    setState(parentId, parentKey, parent, 'PROGRESS')
    return OK
  end

  local sum = 0
  for _, v in ipairs(redis.call('HVALS', K.chunkResults(parentId))) do sum = sum + tonumber(v) end
  local duration = (now - tonumber(parent.created_at)) / 1000
  finish(parentId, parentKey, parent, 'SUCCESS',
    { 'result', string.format('{"prime_count":%.0f,"duration_sec":%.3f}', sum, duration) })
  return OK
end

local codes = {}
for i = 1, tonumber(ARGV[4]) do
  local at = 4 + (i - 1) * 3
  codes[i] = completeJob(ARGV[at + 1], ARGV[at + 2], ARGV[at + 3])
end
flush()
return codes

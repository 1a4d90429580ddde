--[[ cleanJobs: delete finished top-level jobs of one final state in this shard, oldest first, as
  BullMQ's clean (DELETE /jobs). A deleted job leaves every index (its state's, all jobs', the
  dead-letter queue) with its record, its log, its idempotency key and, a prime count, its
  chunks (their records, logs and dead-letter entries) and their results. A node of a flow that
  is still running is kept (its dependents read its outcome when they start). The index is
  looked at from a position the caller keeps between calls: the first entry of score `from`
  after the `ties` entries of that score that earlier calls looked at and kept.
  ARGV[4] state (a final one)  ARGV[5] type ('' any)  ARGV[6] queue ('' any)
  ARGV[7] from: a score ('' the start)  ARGV[8] ties  ARGV[9] limit: the most to delete
  ARGV[10] scan: the most entries to look at
  Returns  {{deleted ids}, kept (flow nodes of running flows), looked (entries looked at), score,
  ties, done ('1': the index was looked at to its end)}: the next call starts at score, ties
]]
local state, wantType, wantQueue = ARGV[4], ARGV[5], ARGV[6]
local from, ties = ARGV[7], argNumber(ARGV[8], 'ties')
local limit, scan = argNumber(ARGV[9], 'limit'), argNumber(ARGV[10], 'scan')
if not FINAL[state] then error('wizard: cleanJobs takes a final state, got ' .. tostring(state)) end
local index = K.state(state)
local start = 0
if from ~= '' then start = redis.call('ZCOUNT', index, '-inf', '(' .. from) + ties else ties = 0 end
local entries = redis.call('ZRANGE', index, start, start + scan - 1, 'WITHSCORES')

-- a job's record and the keys that belong to it only
local gone, keys = {}, {}
local function drop(id)
  gone[#gone + 1] = id
  keys[#keys + 1] = K.job(id)
  keys[#keys + 1] = K.jobLog(id)
end

local deleted, kept, looked = {}, 0, 0
for i = 1, #entries, 2 do
  if #deleted >= limit then break end
  local id, score = entries[i], entries[i + 1]
  looked = looked + 1
  local jobKey = K.job(id)
  local s, jobType, queue, parent, flowId, total, idemKey =
    unpack(redis.call('HMGET', jobKey, 'state', 'type', 'queue', 'parent_id', 'flow_id', 'total', 'idem_key'))
  local keep = false
  if not s then
    drop(id) -- expired: only its index entries are left
  elseif s ~= state or (parent and parent ~= '') or (wantType ~= '' and jobType ~= wantType)
      or (wantQueue ~= '' and (queue or OMITTED_QUEUE) ~= wantQueue) then
    keep = true
  elseif flowId and flowId ~= '' and redis.call('HGET', K.flowRecord(flowId), 'state') == 'RUNNING' then
    keep = true
    kept = kept + 1
  else
    drop(id)
    deleted[#deleted + 1] = id
    if idemKey and idemKey ~= '' and redis.call('HGET', K.idem(idemKey), 'job') == id then keys[#keys + 1] = K.idem(idemKey) end
    if total and total ~= '' then
      for _, chunk in ipairs(redis.call('LRANGE', K.children(id), 0, -1)) do drop(chunk) end
      keys[#keys + 1] = K.children(id)
      keys[#keys + 1] = K.chunkResults(id)
    end
  end
  if score ~= from then from, ties = score, 0 end
  if keep then ties = ties + 1 end
end

for i = 1, #keys, 1000 do redis.call('DEL', unpack(keys, i, math.min(i + 999, #keys))) end
variadic('ZREM', index, gone)
variadic('ZREM', K.jobs, gone)
variadic('ZREM', K.dlq, gone)
local done = (looked == #entries / 2 and #entries / 2 < scan) and '1' or '0'
return { deleted, kept, looked, from, ties, done }

--[[ enqueueDeduped: make one job under a debounce or throttle window, or answer the window's job
  (docs/flow-control.md "Debounce and throttle"), in one atomic step: any number of submissions
  with one key at once make one job. The window's key is in the shard of the job it names (the
  adapter picks the shard from the window's scope, or its group), so one script sees both.
  ARGV[4..8] the window, the layout DEDUPE of src/store/wire.ts: its key as the store keeps it
           (scope: src/core/job.ts dedupeScope), mode ('throttle' or 'debounce'), ttl_ms,
           max_wait_ms ('' none), the key as its caller gave it (the new job's record keeps it)
  ARGV[9]  the row's size (ROW_SIZE or PLAIN_ROW_SIZE), then one job's row (the layout ROW); a
           debounced job's row is delayed by the window already (src/store/common.ts dedupedRow)
  The window, K.dedupe(scope), is a hash {job, mode, type, cap}:
    throttle  it lasts ttl_ms from its first job (PX): while it does, the job it names, while that
              is kept and not CANCELLED, is the answer and nothing is made
    debounce  while the job it names is PENDING (not claimed yet), a submission replaces its
              params, attempts, timeout and priority and makes it due ttl_ms from now, but no
              later than cap (its first submission's time plus max_wait_ms); once the job was
              claimed, a submission makes a new job, which the window names from then on. It
              lasts until its job is due, and the result TTL after (PX, set again by each change)
  Returns  {OK, now, id, 'made' | 'throttled' | 'debounced'}: the job made (now is its created_at)
           or the window's job; {CONFLICT, now, id, 'mode', the window's mode} for a window in
           the other mode; {CONFLICT, now, id, 'type', its type} when a debounced job of another
           type waits under the key. Nothing is written but what the answer says.
]]
local at = 3
local scope, mode = ARGV[at + DEDUPE.scope], ARGV[at + DEDUPE.mode]
local ttlMs = argNumber(ARGV[at + DEDUPE.ttl_ms], 'ttl_ms')
local maxWait = ARGV[at + DEDUPE.max_wait_ms]
local rowAt = at + DEDUPE_SIZE + 1 -- ARGV[rowAt] is the row's size, its fields ARGV[rowAt + ROW.<field>]
local windowKey = K.dedupe(scope)

local window = redis.call('HMGET', windowKey, 'job', 'mode', 'type', 'cap')
local heldId = window[1]
local jobKey = heldId and jobKeyFor(heldId)
local j = load(jobKey)
if j then
  if window[2] ~= mode then return { CONFLICT, nowStr, heldId, 'mode', window[2] or '' } end
  if mode == 'throttle' then
    if j.state ~= 'CANCELLED' then return { OK, nowStr, heldId, 'throttled' } end
  elseif j.state == 'PENDING' then
    local jobType = ARGV[rowAt + ROW.type]
    if window[3] ~= jobType then return { CONFLICT, nowStr, heldId, 'type', window[3] or '' } end
    -- out of its wait list or delayed set (by its priority as it was), in again as due later
    unqueue(heldId, j)
    local set = { 'HSET', jobKey, 'params', ARGV[rowAt + ROW.params], 'updated_at', nowStr }
    local gone = {}
    local size, whole = rowsSize(ARGV[rowAt])
    local plain = size == PLAIN_ROW_SIZE
    local maxAttempts = ARGV[rowAt + ROW.max_attempts]
    if whole or maxAttempts ~= OMITTED_MAX_ATTEMPTS then -- as enqueueRows writes it
      set[#set + 1] = 'max_attempts'
      set[#set + 1] = maxAttempts
    else
      gone[#gone + 1] = 'max_attempts'
    end
    for _, field in ipairs({ 'priority', 'timeout_ms' }) do
      local value = plain and '' or ARGV[rowAt + (field == 'priority' and ROW.priority or ROW.timeout_ms)]
      if value == '' then gone[#gone + 1] = field else set[#set + 1] = field; set[#set + 1] = value end
    end
    local runAt = now + ttlMs
    local cap = tonumber(window[4] or '')
    if cap and runAt > cap then runAt = cap end
    if runAt < now then runAt = now end
    local runAtStr = string.format('%d', runAt)
    set[#set + 1] = 'run_at'
    set[#set + 1] = runAtStr
    if #gone > 0 then redis.call('HDEL', jobKey, unpack(gone)) end
    redis.call(unpack(set))
    redis.call('ZADD', K.delayed(j.queue), runAtStr, heldId)
    redis.call('ZADD', K.marker(j.queue), '0', 'm') -- a consumer learns the new due time
    redis.call('PEXPIRE', windowKey, string.format('%d', runAt - now + resultTtl))
    return { OK, nowStr, heldId, 'debounced' }
  end
end

-- no window, or its job is gone, cancelled (throttle) or was claimed (debounce): make the job
local id = ARGV[rowAt + ROW.id]
enqueueRows(rowAt)
redis.call('HSET', K.job(id), 'dedupe_key', ARGV[at + DEDUPE.key], 'dedupe_mode', mode)
redis.call('DEL', windowKey)
redis.call('HSET', windowKey, 'job', id, 'mode', mode, 'type', ARGV[rowAt + ROW.type])
if mode == 'throttle' then
  redis.call('PEXPIRE', windowKey, ARGV[at + DEDUPE.ttl_ms])
else
  if maxWait ~= '' then
    redis.call('HSET', windowKey, 'cap', string.format('%d', now + argNumber(maxWait, 'max_wait_ms')))
  end
  local delay = tonumber(ARGV[rowAt + ROW.delay_ms]) or 0
  redis.call('PEXPIRE', windowKey, string.format('%d', delay + resultTtl))
end
flush()
return { OK, nowStr, id, 'made' }

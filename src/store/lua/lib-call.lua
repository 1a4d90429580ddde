-- lib-call.lua (the last lib file): what every call starts with. The lib files above make their
-- functions and constant tables once: loaded as the Redis Functions library (src/store/scripts.ts)
-- once per FUNCTION LOAD, not once per call. What one call reads (its base, its time, the TTLs) and
-- gathers (flush()'s lists, the lake's records, a flow's work) lives in locals those functions
-- share, and beginCall sets every one of them afresh, so nothing a previous call left is seen by
-- the next: not even by one after a call that failed midway, whose lists were never flushed.
-- A new per-call local in a lib file is set here too.
local function beginCall(keys, args)
  KEYS, ARGV = keys, args
  moveFrom, moveTo, moveQueued, moveOrder = {}, {}, {}, {}
  leases, unleased, events = {}, {}, {}
  eventResultMax = 0
  lakeRecords = nil
  lakeDays, lakeDayOrder = {}, {}
  flowWork = nil
  claimTrace = false
  -- K's names of the base: the same base as the last call's (one prefix and shard) keeps them
  local b = keys[1]
  if b ~= base then
    for name, suffix in pairs(K_NAMES) do K[name] = b .. suffix end
    base = b
  end
  nowStr = args[1]
  if nowStr == '' then
    local t = redis.call('TIME')
    nowStr = t[1] .. string.sub('000' .. string.sub(t[2], 1, -4), -3)
  end
  now = argNumber(nowStr, 'now')
  ttlStr = args[2]
  resultTtl = argNumber(ttlStr, 'resultTtlMs')
  eventRetention = argNumber(args[3], 'eventRetentionMs')
end

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
  fastCounted, fastAdded, fastIndexed = {}, {}, {}
  leases, unleased, events = {}, {}, {}
  eventResultMax = 0
  leanMoves = false
  lakeRecords = nil
  lakeDays, lakeDayOrder = {}, {}
  flowWork = nil
  claimTrace = false
  if keys[1] ~= base then setBase(keys[1]) end -- (the same base as the last call's keeps K's names)
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

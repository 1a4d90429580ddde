-- lib-lake.lua (after lib.lua; src/store/scripts.ts joins the lib files in order): the datalake's
-- records, gathered while a script runs and written by flushLake.

-- ---- the datalake: settings in K.config (README "Datalake"), defaults: records all, 30 days ----
local DAY_MS = 86400000

-- days since 1970-01-01 → 'YYYY-MM-DD' (proleptic Gregorian; Hinnant's civil_from_days),
-- remembered: the times of one script are mostly of one day
local dayNames = {}
local function dayName(days)
  if dayNames[days] then return dayNames[days] end
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  dayNames[days] = string.format('%04d-%02d-%02d', y, m, doy - math.floor((153 * mp + 2) / 5) + 1)
  return dayNames[days]
end

-- what the lake records: 'all', 'none' or 'type,type' (read once per call: nil when one starts, beginCall)
local lakeRecords
local function lakeSetting()
  lakeRecords = lakeRecords or redis.call('HGET', K.config, 'datalake') or 'all'
  return lakeRecords
end

-- records gathered per day (written by flushLake, which flush() calls): day -> {open and whole records, counters};
-- made empty when a call starts (beginCall)
local lakeDays, lakeDayOrder

-- a finished top-level job of a recorded type, for its UTC day: one JSON array (the entry
-- src/core/datalake.ts lakeEntry writes and lakeRecord reads); its result or error is this
-- finish's (`field`, 'result' or 'error', and `value`). j is the job as load() read it.
-- `entry`, when given (not nil or ''), is that array already made by the caller from the job as
-- it claimed it but for its finish time, open at the end ('[..., started_at,'), and `startedAt`
-- its start (a worker's completion): building it here costs more Redis CPU than the rest of a
-- completion. The finish time is this script's (nowStr): flushLake writes it once beside the open
-- entries, and the reader closes each with it (src/store/redis/lake.ts), so no entry is copied
-- here to close it; it is written in this same step all the same.
local function appendToLake(id, jobKey, j, to, field, value, entry, startedAt)
  if j.parent_id ~= '' or lakeSetting() == 'none' then return end
  local started, open = nil, entry and entry ~= ''
  if open then
    if lakeRecords ~= 'all' and not string.find(',' .. lakeRecords .. ',', ',' .. redis.call('HGET', jobKey, 'type') .. ',', 1, true) then return end
    started = tonumber(startedAt)
  else
    local jobType, ran, initiatedBy, attempts, handledBy, createdAt =
      unpack(redis.call('HMGET', jobKey, 'type', 'started_at', 'initiated_by', 'attempts', 'handled_by', 'created_at'))
    if lakeRecords ~= 'all' and not string.find(',' .. lakeRecords .. ',', ',' .. jobType .. ',', 1, true) then return end
    started = tonumber(ran)
    entry = cjson.encode({ [LAKE.id] = id, [LAKE.type] = jobType, [LAKE.queue] = j.queue, [LAKE.status] = to,
      [LAKE.result] = field == 'result' and value or '', [LAKE.error] = field == 'error' and value or '',
      [LAKE.attempts] = tonumber(attempts) or 0, [LAKE.initiated_by] = initiatedBy or '', [LAKE.handled_by] = handledBy or '',
      [LAKE.created_at] = tonumber(createdAt) or 0, [LAKE.started_at] = started or cjson.null, [LAKE.finished_at] = now })
  end
  local duration = started and (now - started)
  local today = math.floor(now / DAY_MS)
  local day = dayName(today)
  local d = lakeDays[day]
  if not d then
    d = { start = today * DAY_MS, open = {}, whole = {}, success = 0, durationSum = 0, timed = 0 }
    lakeDays[day] = d
    lakeDayOrder[#lakeDayOrder + 1] = day
  end
  local records = open and d.open or d.whole
  records[#records + 1] = entry
  if to == 'SUCCESS' then d.success = d.success + 1 end
  if duration then
    d.durationSum = d.durationSum + duration
    d.timed = d.timed + 1
  end
end

-- a day's lines as buffer entries {day, at, now, <field>, lines} of up to 1,000 lines each
local function bufferLines(day, field, lines)
  for i = 1, #lines, 1000 do
    redis.call('XADD', K.lakeBuffer, '*', 'day', day, 'at', nowStr, field, table.concat(lines, '\n', i, math.min(i + 999, #lines)))
  end
end

-- each day's gathered records appended to the buffer the drainer empties into the day files
-- (docs/datalake.md): entries open at the end under `o`, one a line, that the reader closes with
-- `at` (this step's finish time), and whole ones under `n` (an earlier build wrote {day, r,
-- record, r, ...}: read all the same); the day's counters once; a day joins the index with its
-- first records
local function flushLake()
  for _, day in ipairs(lakeDayOrder) do
    local d = lakeDays[day]
    bufferLines(day, 'o', d.open)
    bufferLines(day, 'n', d.whole)
    local total = #d.open + #d.whole
    local stats = K.lakeStats(day)
    if redis.call('HINCRBY', stats, 'total', total) == total then redis.call('ZADD', K.lakeDays, d.start, day) end
    if d.success > 0 then redis.call('HINCRBY', stats, 'success', d.success) end
    if d.timed > 0 then
      redis.call('HINCRBY', stats, 'duration_ms_sum', d.durationSum)
      redis.call('HINCRBY', stats, 'duration_count', d.timed)
    end
  end
  lakeDays, lakeDayOrder = {}, {}
end

--[[ joinFormat.lua: a role joins a prefix (src/store/format.ts). It stands alone (no lib.lua) and
  runs once when a role opens its store, before the role does anything else.
  KEYS[1]  base "{prefix}:"
  KEYS[2]  format: the string holding the prefix's format version
  KEYS[3]  counts: the queued-job counters (hash)
  KEYS[4]  state:PENDING, KEYS[5] state:STARTED: those states' indexes
  KEYS[6..] keys that any wizard data under the prefix has one of (jobs, queues, bots, ...)
  ARGV[1]  the newest format this code reads and writes (an empty prefix gets it)
  ARGV[2]  the oldest format it migrates from
  ARGV[3]  the oldest format it leaves as it is: a prefix from there on (the previous release's
           format) stays until `wizard upgrade finish` (src/store/upgrade.ts) takes it on
  Returns {found, outcome, moved, format}: found is the format found ('' for an empty prefix; '1'
  for data written before formats were versioned), format the prefix's format now, outcome one of
    'new'          the prefix was empty: the newest format is written
    'same'         it is at ARGV[3] or newer (up to ARGV[1]) already: nothing changed
    'migrated'     a format before ARGV[3], migrated to ARGV[1] in this step (moved: queued jobs moved to counts)
    'newer'        written by a newer wizard: nothing changed
    'incompatible' a format this code cannot migrate from: nothing changed
  An upgrade being finished (the value '<from>><to>', src/store/upgrade.ts) reads as <from>: a
  role of this version joins it; an older one finds no number there and stops.
]]
local base, formatKey, countsKey = KEYS[1], KEYS[2], KEYS[3]
local current, oldest, rolling = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if not current or not oldest or not rolling then error('wizard: joinFormat takes three format versions, got ' .. tostring(ARGV[1]) .. ', ' .. tostring(ARGV[2]) .. ', ' .. tostring(ARGV[3])) end

local found = redis.call('GET', formatKey)
if not found then
  if redis.call('EXISTS', unpack(KEYS, 6)) == 0 then
    redis.call('SET', formatKey, current)
    return { '', 'new', 0, current }
  end
  found = '1' -- data, but no format: written before formats were versioned
end
local version = tonumber(found) or tonumber(string.match(found, '^(%d+)>%d+$'))
if version == nil or version ~= math.floor(version) or version < oldest then return { found, 'incompatible', 0, found } end
if version > current then return { found, 'newer', 0, found } end
if version >= rolling then return { found, 'same', 0, version } end

-- 1 → 2: a queued top-level job that is PENDING or STARTED leaves the per-state index, where
-- format 1 kept it, for the counters (its queue's wait list or lease set holds it). Jobs on no
-- queue (a prime count's parent, its `queue` empty) stay indexed. Data written after that change but before
-- formats were versioned has no such entries: nothing moves.
local function indexToCounts(indexKey, state)
  local ids = redis.call('ZRANGE', indexKey, 0, -1)
  local moved = {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', base .. 'job:' .. id, 'queue', 'parent_id')
    -- no queue field: a record written lean at format 3 (wire.ts's OMITTED), in the default
    -- queue; an empty one: a job on no queue
    if f[1] ~= '' and (not f[2] or f[2] == '') then moved[#moved + 1] = id end
  end
  for i = 1, #moved, 1000 do
    redis.call('ZREM', indexKey, unpack(moved, i, math.min(i + 999, #moved)))
  end
  if #moved > 0 then redis.call('HINCRBY', countsKey, state, #moved) end
  return #moved
end

local moved = 0
if version < 2 then
  moved = indexToCounts(KEYS[4], 'PENDING') + indexToCounts(KEYS[5], 'STARTED')
end
-- to the newest format: a prefix at 1 has had no role of the previous release (which writes 2
-- as it joins), so no role alive reads only 2
redis.call('SET', formatKey, current)
return { found, 'migrated', moved, current }

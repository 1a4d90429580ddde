--[[ lib.lua: helpers every script starts with (src/store/scripts.ts assembles them), followed by
  lib-lake.lua, lib-state.lua, lib-queue.lua, lib-bots.lua, lib-flow.lua and lib-call.lua (LIB_FILES).
  KEYS[1]  base: the hash-tagged key prefix "{prefix}:" (names mirror src/store/keys.ts)
  KEYS[2]  guard: "<base>guard", never written, like the base (src/store/scripts.ts: a Cluster
           then refuses the script with TRYAGAIN while its slot is half moved)
  ARGV[1]  '' : the script's time is Redis's clock (TIME), the one clock of the whole cluster: a
           deadline a script writes (a lease, a retry's due time, a heartbeat) and one it compares
           with were both made by it, whatever the clocks of the hosts that asked. Clients pass
           durations (leaseMs, a retry's delay, a TTL), never times. A number instead: that time
           (ms), a test's clock (StoreOptions.now); production never sends one.
  ARGV[2]  resultTtlMs: finished jobs expire this long after they finish
  ARGV[3]  eventRetentionMs: the event log keeps roughly this much history
  Script-specific arguments start at ARGV[4].

  Side effects that many jobs share a key for (the per-state indexes, a queue's lease set, the
  event log) are gathered while a script runs and written once, as variadic commands, by
  flush(), which every script that changes a job calls before it returns: one ZADD or XADD for
  a batch of 64 jobs costs a fraction of 64 of them.

  Every transition of a job, where it is written (a script, through lib.lua's function) and its
  states; setState and finish refuse a move the table TRANSITIONS (generated from
  src/core/job.ts, prepended by src/store/scripts.ts) does not list. The memory adapter
  (src/store/memory) does the same moves; test/integration/store-twins.test.ts compares the two.

  transition              script (lib.lua function)                     from                       to
  enqueue                 enqueueJobs, enqueueBatch, enqueueScheduled   (new)                      PENDING (delayed: run_at)
                          (enqueueRows)
  claim                   claimJobs, completeAndClaim, claimJobForBot   PENDING, RETRY             STARTED
                          (claimFrom)                                   parent PENDING             parent STARTED
  renew                   renewLease, heartbeatBot                      STARTED, PROGRESS          (same: the lease moves)
  bot start               startJob                                      STARTED                    PROGRESS
  complete                completeJobs, completeAndClaim,               STARTED, PROGRESS          SUCCESS
                          completeBotJob (completeJob)                  parent STARTED, PROGRESS   PROGRESS (a chunk done),
                                                                                                   SUCCESS (the last one)
  fail                    failJob, failBotJob (failJob)                 STARTED, PROGRESS          RETRY, FAILURE, DEAD
  a chunk ends for good   (failParent, endChunks)                       parent not final           FAILURE
                                                                        its other chunks not final FAILURE
  release                 releaseJob, releaseLostClaim, removeBot       STARTED, PROGRESS          PENDING (attempt not counted)
                          (releaseHeld)
  reap                    reapExpiredLeases (reclaim)                   STARTED, PROGRESS          RETRY, or DEAD (last attempt)
  bots down               markBotsDown (reclaim)                        STARTED, PROGRESS          RETRY, or DEAD (last attempt)
  cancel                  cancelJob (cancel, endChunks)                 PENDING, RETRY, STARTED,   CANCELLED, and a parent's
                                                                        PROGRESS                   unfinished chunks too
  retry a dead job        retryDeadJob (requeueAnew)                    DEAD                       PENDING
  retry a failed job      retryFailedJob (requeueAnew)                  FAILURE                    PENDING
  check                   checkJob                                      any                        (same: checked_by)
]]
-- Per call: what a call reads from its KEYS and ARGV (base, now, the TTLs) and what it gathers
-- (the lists flush() writes, below) are locals every function here shares, set afresh by
-- beginCall (lib-call.lua, the last lib file) when each call starts; what is made once is the
-- rest: the functions and the constant tables. As a Redis Functions library (src/store/scripts.ts)
-- these files run once per FUNCTION LOAD, so nothing here may read KEYS, ARGV or Redis at load.
local base, nowStr, now, resultTtl, ttlStr, eventRetention

-- a number from the script's arguments, which the adapter sends; one that is not a number is a
-- bug, said as one here: a nil never reaches arithmetic or a comparison (every tonumber of an
-- argument goes through this, every tonumber of a stored field has its `or` default)
local function argNumber(v, name)
  local n = tonumber(v)
  if not n then error('wizard: ' .. name .. ' must be a number, got ' .. tostring(v)) end
  return n
end
-- now as a string too: what is written uses it. Every number a script hands to Redis or
-- concatenates is formatted by sprintf("%.17g"), which costs more than the command it is for, so
-- the hot paths pass strings (nowStr, '0', countStr) wherever they can. TIME answers seconds and
-- microseconds as strings: the milliseconds are the seconds and the first three of the six
-- microsecond digits (TIME does not pad them: '5123' is 005123 µs), built by concatenation alone.
-- (Set by beginCall: nowStr, now, resultTtl and ttlStr, ARGV[2] as it came.)

-- small non-negative integers as strings without sprintf: countStr(3) == '3'
local COUNTS = { [0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15',
  '16', '17', '18', '19', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30', '31', '32' }
local function countStr(n)
  return COUNTS[n] or string.format('%d', n)
end

local K = {
  job = function(id) return base .. 'job:' .. id end,
  jobLog = function(id) return base .. 'job:' .. id .. ':log' end,
  children = function(id) return base .. 'job:' .. id .. ':children' end,
  chunkResults = function(id) return base .. 'job:' .. id .. ':results' end,
  wait = function(q) return base .. 'q:' .. q .. ':wait' end,
  -- the wait list of a priority: the default one (5, or '') is K.wait itself
  waitAt = function(q, p) if p == '' or p == '5' or p == 5 then return base .. 'q:' .. q .. ':wait' end return base .. 'q:' .. q .. ':wait:' .. p end,
  ready = function(q) return base .. 'q:' .. q .. ':ready' end,
  -- the CPU lists: a queue's CPU jobs (the record's cpu = '1') wait apart, each key a twin of the above
  cpuWait = function(q) return base .. 'q:' .. q .. ':cpuwait' end,
  cpuWaitAt = function(q, p) if p == '' or p == '5' or p == 5 then return base .. 'q:' .. q .. ':cpuwait' end return base .. 'q:' .. q .. ':cpuwait:' .. p end,
  cpuReady = function(q) return base .. 'q:' .. q .. ':cpuready' end,
  cpuMarker = function(q) return base .. 'q:' .. q .. ':cpumarker' end,
  active = function(q) return base .. 'q:' .. q .. ':active' end,
  reaper = function(q) return base .. 'q:' .. q .. ':reaper' end,
  delayed = function(q) return base .. 'q:' .. q .. ':delayed' end,
  marker = function(q) return base .. 'q:' .. q .. ':marker' end,
  -- groups and limits (docs/flow-control.md): the ring of groups with work, a group's waiting
  -- jobs (both per kind: cpu '1' is the CPU lists'), the sequence that orders them, the held
  -- grouped jobs' groups, each group's running count, the limits, the held-back counter
  groups = function(q, cpu) if cpu == '1' then return base .. 'q:' .. q .. ':cpugroups' end return base .. 'q:' .. q .. ':groups' end,
  groupWait = function(q, cpu, g) if cpu == '1' then return base .. 'q:' .. q .. ':cpug:' .. g end return base .. 'q:' .. q .. ':g:' .. g end,
  groupSeq = function(q) return base .. 'q:' .. q .. ':gseq' end,
  groupHeld = function(q) return base .. 'q:' .. q .. ':gheld' end,
  groupRunning = function(q) return base .. 'q:' .. q .. ':grunning' end,
  flow = function(q) return base .. 'q:' .. q .. ':flow' end,
  heldBack = function(q) return base .. 'q:' .. q .. ':heldback' end,
  -- rate limits: the start times in the window (the queue's, a group's), the held-back counter
  rateLog = function(q) return base .. 'q:' .. q .. ':ratelog' end,
  groupRateLog = function(q, g) return base .. 'q:' .. q .. ':gratelog:' .. g end,
  heldBackRate = function(q) return base .. 'q:' .. q .. ':heldrate' end,
  state = function(s) return base .. 'state:' .. s end,
  rate = function(bucket) return base .. 'rate:' .. bucket end,
  budget = function(bucket) return base .. 'budget:' .. bucket end,
  lock = function(name) return base .. 'lock:' .. name end,
  once = function(name) return base .. 'once:' .. name end,
  idem = function(key) return base .. 'idem:' .. key end,
  dedupe = function(scope) return base .. 'dedupe:' .. scope end,
  flowRecord = function(id) return base .. 'flow:' .. id end,
  flowNodes = function(id) return base .. 'flow:' .. id .. ':nodes' end,
  flowNext = function(id) return base .. 'flow:' .. id .. ':next' end,
  flowFar = function(id) return base .. 'flow:' .. id .. ':far' end,
  flowCounted = function(id) return base .. 'flow:' .. id .. ':counted' end,
  depsIn = function(id) return base .. 'job:' .. id .. ':depsin' end,
  flowIdem = function(key) return base .. 'flowidem:' .. key end,
  node = function(role, id) return base .. 'node:' .. role .. ':' .. id end,
  nodes = function(role) return base .. 'nodes:' .. role end,
  bot = function(id) return base .. 'bot:' .. id end,
  lake = function(day) return base .. 'datalake:' .. day end,
  lakeStats = function(day) return base .. 'datalake:' .. day .. ':stats' end,
}
-- K's keys that are one per base (K.counts, K.jobs, ...): set by beginCall when a call's base is
-- not the last call's
local function setBase(b)
  base = b
  K.counts = base .. 'counts'
  K.jobs = base .. 'jobs'
  K.dlq = base .. 'dlq'
  K.events = base .. 'events'
  K.abacus = base .. 'abacus'
  K.flowOutbox = base .. 'flowbox'
  K.flows = base .. 'flows'
  K.queues = base .. 'queues'
  K.schedules = base .. 'schedules'
  K.bots = base .. 'bots'
  K.botsUp = base .. 'bots:up'
  K.botsReaper = base .. 'bots:reaper'
  K.botTokens = base .. 'bots:tokens'
  K.config = base .. 'config'
  K.lakeDays = base .. 'datalake:days'
  K.lakeBuffer = base .. 'datalake:buffer'
end

-- The key of the job an id from the script's arguments names (a route's, a bot's, a worker's), or
-- nil when the id cannot name a job: the keys beside a job's record are `job:<id>:children` (a
-- list) and `job:<id>:results` (a chunk's results), so an id holding ':' would name one of them
-- (src/core/ids.ts). Every script that takes a job id from a caller finds the job through this
-- (completeJob, whose ids come from claims and bots' records, reads by redis.pcall instead), and
-- takes a hash for a job's record only when it has a state (load() and checkJob: one TRANSITIONS
-- knows, isJobState; a results hash has none, a list reads as an error table), so nothing is ever
-- written into a key that is not a job's.
local function jobKeyFor(id)
  if id == nil or id == '' or string.find(id, ':', 1, true) then return nil end
  return K.job(id)
end

-- whether an id is a flow node's (src/store/keys.ts isFlowNodeId): its UUID's version digit is 8
-- ('8', after a '-'), where other jobs' is 4 or their id no UUID, so the claim and the completion
-- read a flow's fields for these ids only
local function isFlowNode(id)
  return string.byte(id, #id - 21) == 56 and string.byte(id, #id - 22) == 45
end

-- the job's marker: a record has a state the state machine knows (a results hash has none)
local function isJobState(state)
  return state ~= nil and TRANSITIONS[state] ~= nil
end

-- a record's state, read with a field every job's record has (`created_at`, or `type`): at
-- format 3 a job of its own with no options is written without `state` while it is PENDING
-- (enqueueRows: 16 bytes a waiting job), so a record with the field and no
-- state is PENDING; a key with neither is no job's record
local function stateOf(state, field)
  if state then return state end
  if field then return 'PENDING' end
  return nil
end

-- the state of the record at jobKey, read as stateOf reads it (nil: no job's record)
local function recordState(jobKey)
  return stateOf(unpack(redis.call('HMGET', jobKey, 'state', 'created_at')))
end

-- the result codes (OK, MISSING, TOKEN_MISMATCH, ...) and the layouts' sizes (ROW_SIZE, ...) are
-- generated from src/store/wire.ts above this file; a layout's position is written by name
-- (ROW.type, CLAIM.token: see the layouts there) and scripts.ts puts the number in its place

-- the sets of states (RUNNABLE, HELD, FINAL, COUNTED_NOT_INDEXED, ...) and DEFAULT_PRIORITY are
-- generated from src/core/states.ts above this file (src/store/lua-transitions.ts)

-- gathered side effects, written by flush(). The hot paths (claim, complete, enqueue) run once
-- per job, so they build as few Lua tables and strings as they can: each costs Redis CPU.
-- (Each made empty by beginCall when a call starts.)
local moveFrom, moveTo, moveQueued, moveOrder -- top-level job id -> its per-state index entry
local fastCounted, fastAdded, fastIndexed -- indexMove's fast path: state -> count; state -> {now, id, ...}; {created_at, id, ...}
local leases                      -- queue -> {score, id, ...}: ZADD to the lease set
local unleased                    -- queue -> {id, ...}: ZREM from the lease set
local events                      -- job id, change, ...: one entry of the event log per script

-- the list t[key], made on first use
local function listFor(t, key)
  local list = t[key]
  if not list then list = {}; t[key] = list end
  return list
end

-- run `cmd key <items>` in slices, so no unpack exceeds Lua's stack
local function variadic(cmd, key, items, step)
  step = step or 1000
  for i = 1, #items, step do
    redis.call(cmd, key, unpack(items, i, math.min(i + step - 1, #items)))
  end
end

-- the rows' size of enqueueRows's ARGV, and whether the records are to be written whole: negated
-- on a prefix below format 3, whose previous release reads every field (src/store/common.ts rowArgs)
local function rowsSize(v)
  local size = argNumber(v, "the rows' size")
  if size < 0 then return -size, true end
  return size, false
end

-- a SUCCESS event carries the job's result (JSON) when it is at most this many bytes (0: none),
-- so a caller waiting on the log needs no second read: set by the completion scripts from their
-- arguments (completeRows, completeBotJob.lua), 0 on a prefix below format 3, whose older
-- readers would not parse it (src/store/format.ts); 0 when a call starts (beginCall)
local eventResultMax = 0

-- the hot moves (a claim: lib-queue.lua's claimOne; a finish: lib-state.lua's finish) leave a
-- job's updated_at out: it would equal the started_at or finished_at they write, and readers take
-- the latest of the three (src/store/codec.ts updatedAtOf). Set by the claim's and the
-- completions' arguments on a prefix at format 3 (claimWith, completeRows); below it every move
-- writes updated_at, as the previous release reads it. false when a call starts (beginCall)
local leanMoves = false

-- a state or progress change for the event log: "STATE" or "STATE completed total", then, for a
-- SUCCESS that carries its result, a newline and the result (JSON never holds a raw newline)
local function emit(id, state, completed, total, result)
  events[#events + 1] = id
  local v = state
  if total and total ~= '' then v = state .. ' ' .. completed .. ' ' .. total end
  if result then v = v .. '\n' .. result end
  events[#events + 1] = v
end

-- The per-state index (K.state) holds the top-level jobs of each state, except where a queue
-- holds them already: a queued job that is PENDING is in its queue's wait list, one that is
-- STARTED in its lease set. Those are only counted (K.counts), so the common path of a job
-- through a queue writes no index at all until it finishes; src/store/redis/reads.ts lists
-- them from the queues. These states are COUNTED_NOT_INDEXED (src/core/states.ts).

-- a top-level job changes state in the index (from = false for a new job; queued: it has a
-- queue); a job that moves twice in one script moves once, from where it was to where it ends.
-- createdAt (its record's, when the caller read it) is kept in moveQueued in place of true: a
-- queued job that leaves PENDING or STARTED for an indexed state enters the all-jobs index
-- (K.jobs) under it (flush).
-- The hot moves take a fast path: a queued job's first move in the call from a counted state
-- (a claim's PENDING -> STARTED, a completion's STARTED -> SUCCESS, with its created_at) goes
-- straight into what flush writes (fastCounted, fastAdded, fastIndexed), with no entry of its
-- own: the entries keyed by its id in three tables, an append to a fourth and flush's pass over
-- them cost a claim about 5,000 and a completion about 5,000 Lua instructions a job. flush writes
-- those first, so a later move of the same job in the call, which then has an entry of its own
-- from where the fast path left it, is written after them.
local function indexMove(id, from, to, queued, createdAt)
  if from and queued and COUNTED_NOT_INDEXED[from] and moveTo[id] == nil then
    if COUNTED_NOT_INDEXED[to] then
      fastCounted[from] = (fastCounted[from] or 0) - 1
      fastCounted[to] = (fastCounted[to] or 0) + 1
      return
    elseif createdAt and createdAt ~= '' then
      fastCounted[from] = (fastCounted[from] or 0) - 1
      local added = listFor(fastAdded, to)
      added[#added + 1] = nowStr
      added[#added + 1] = id
      fastIndexed[#fastIndexed + 1] = createdAt
      fastIndexed[#fastIndexed + 1] = id
      return
    end
  end
  if moveTo[id] == nil then
    moveFrom[id] = from
    moveQueued[id] = queued
    moveOrder[#moveOrder + 1] = id
  end
  moveTo[id] = to
  if queued and createdAt and createdAt ~= '' then moveQueued[id] = createdAt end
end

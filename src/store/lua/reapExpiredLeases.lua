--[[ reapExpiredLeases: return jobs whose holder stopped renewing (killed, frozen, cut off).
  ARGV[4] queue  ARGV[5] limit
  ARGV[6] the lease the caller's workers hold jobs of this queue under (ms; '' for a caller that
          holds none, the scheduler: the lease the queue's reaper last named, else ARGV[7])
  ARGV[7] the lease to assume when none was ever named (ms)
  ARGV[8..] the token bases of the claims whose jobs the caller holds (a job's token is
          "<base>.<i>"): a process never takes back a job it holds itself
  Returns  {{requeued ids}, {dead ids}}
  A job with attempts left goes back to the head of its queue as RETRY; one that used every
  attempt goes DEAD (and fails its parent). What lapsed while no reaper could reach this shard
  waits one more lease for its holder (lib-state.lua's reapableUpTo). Also housekeeping, up to
  10 × limit ids: drops expired jobs from the indexes and trims the event log to eventRetentionMs.
]]
local queue, limit = ARGV[4], argNumber(ARGV[5], 'limit')
local reaperKey = K.reaper(queue)
local leaseMs = tonumber(ARGV[6]) -- '' when the caller names no lease
if leaseMs then
  redis.call('HSET', reaperKey, 'lease_ms', ARGV[6])
else
  -- the lease a reaper last said, else the default (a stored value that is not a number: the default)
  leaseMs = tonumber(redis.call('HGET', reaperKey, 'lease_ms')) or argNumber(ARGV[7], 'the default leaseMs')
end
local mine = {}
for i = 8, #ARGV do mine[ARGV[i]] = true end

local requeued, dead = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.active(queue), '-inf', reapableUpTo(reaperKey, leaseMs), 'LIMIT', 0, limit)) do
  local jobKey = K.job(id)
  local j = load(jobKey)
  if not j or not HELD[j.state] then
    unlease(queue, id) -- out of the lease set at flush(), its group's slot with it
  elseif mine[string.match(j.token, '^(.*)%.') or ''] then
    -- held by the caller, which is alive: it renews or finishes it
  elseif reclaim(id, jobKey, j, 'lease expired') == 'DEAD' then
    dead[#dead + 1] = id
  else
    requeued[#requeued + 1] = id
  end
end

local cutoff = now - resultTtl
for _, s in ipairs(EXPIRING_LIST) do
  local gone = redis.call('ZRANGEBYSCORE', K.state(s), '-inf', cutoff, 'LIMIT', 0, limit * 10)
  variadic('ZREM', K.state(s), gone)
  variadic('ZREM', K.jobs, gone)
end
redis.call('XTRIM', K.events, 'MINID', '~', math.max(0, now - eventRetention))
flush()
return { requeued, dead }

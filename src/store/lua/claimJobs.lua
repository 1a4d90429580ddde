--[[ claimJobs: take up to `max` jobs from the head of a queue and hold them under a lease.
  ARGV[4] queue  ARGV[5] consumer (becomes handled_by)  ARGV[6] max  ARGV[7] leaseMs
  ARGV[8] token base: claim i gets token "<base>.<i>", unique per claim
  Returns  {now, nextRunAt or '', {value, ...}, ...}: the claim's time (Redis's: the jobs'
  started_at), when the next delayed job is due, and per job the values of src/store/codec.ts's
  CLAIM_FIELDS, in that order, as they are after the claim: what its consumer cannot know.
  Due delayed jobs (RETRY) are promoted first. Jobs cancelled or expired while waiting are
  skipped. The pop, the attempt count, the token and the lease are one step: a consumer that
  dies right after this leaves a lease that lapses, never a lost job. (lib.lua's claimFrom,
  which claimJobForBot shares.)
]]
local out = claimFrom(ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
flush()
return out

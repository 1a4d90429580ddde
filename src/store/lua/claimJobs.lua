--[[ claimJobs: take up to `max` ordinary jobs and up to `max_cpu` CPU jobs from the head of a
  queue and hold them under a lease.
  ARGV[4..9] the layout CLAIM_ARGS of src/store/wire.ts: queue, consumer (becomes handled_by),
          max, max_cpu (-1: CPU jobs count in max), leaseMs, token base (claim i gets token
          "<base>.<i>", unique per claim), trace ('1': answer each job's trace and group)
  Returns  {now, nextRunAt or '', number of CPU jobs, {value, ...}, ...}: the claim's time
  (Redis's: the jobs' started_at), when the next delayed job is due, how many of the jobs are CPU
  jobs (they come last), and per job the values of src/store/wire.ts's CLAIM, in that order, as
  they are after the claim: what its consumer cannot know.
  Due delayed jobs (RETRY) are promoted first. Jobs cancelled or expired while waiting are
  skipped. The pop, the attempt count, the token and the lease are one step: a consumer that
  dies right after this leaves a lease that lapses, never a lost job. (lib.lua's claimFrom,
  which claimJobForBot shares.)
]]
local out = claimWith(3)
flush()
return out

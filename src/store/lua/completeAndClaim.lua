--[[ completeAndClaim: a consumer acknowledges the jobs it finished and takes new ones for the
  slots they freed, in one step and one round trip (BullMQ's moveToFinished fetches the next job
  the same way): completeJobs, then claimJobs.
  ARGV[4] count, then per job: id, token, result, datalake entry, start (as completeJobs)
  then    queue, consumer, max, leaseMs, token base (as claimJobs; max may be 0)
  Returns  {{one code per completion}, {now, nextRunAt or '', {claim values}, ...}}
]]
local codes, at = completeRows(4)
local claimed = claimFrom(ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]), ARGV[at + 4])
flush()
return { codes, claimed }

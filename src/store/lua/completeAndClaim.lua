--[[ completeAndClaim: a consumer acknowledges the jobs it finished and takes new ones for the
  slots they freed, in one step and one round trip (BullMQ's moveToFinished fetches the next job
  the same way): completeJobs, then claimJobs.
  ARGV[4] the largest result a SUCCESS event carries, ARGV[5] the format-3 flag, ARGV[6] count,
          then the completions (as completeJobs)
  then    the claim's arguments (as claimJobs; max and max_cpu may be 0)
  Returns  {{one code per completion}, {now, nextRunAt or '', number of CPU jobs, {claim values}, ...}}
]]
local codes, after = completeRows(4)
local claimed = claimWith(after - 1)
flush()
return { codes, claimed }

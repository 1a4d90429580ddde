--[[ holdQueue: a queue starts nothing in this shard for a while: a handler of one of its jobs without
  a group met the limit of what it calls (rate_limited), in another shard (releaseJob.lua holds the job's own).
  ARGV[4] queue  ARGV[5] holdMs
  Returns  OK.
]]
holdFlow(ARGV[4], 'hold', argNumber(ARGV[5], 'holdMs'))
return OK

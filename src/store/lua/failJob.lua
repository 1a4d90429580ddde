--[[ failJob: a held job's attempt failed. Where it goes is decided in TypeScript (backoff policy).
  ARGV[4] id  ARGV[5] token  ARGV[6] error  ARGV[7] target: RETRY | DEAD | FAILURE
  ARGV[8] delayMs (RETRY only): it may run again this long from now (Redis's time)
  Returns  OK, MISSING or TOKEN_MISMATCH.
  A chunk that ends in DEAD or FAILURE fails its parent at once.
]]
local code = failJob(ARGV[4], ARGV[5], ARGV[6], ARGV[7], argNumber(ARGV[8], 'delayMs'))
flush()
return code

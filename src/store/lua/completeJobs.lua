--[[ completeJobs: held jobs succeeded. Acknowledge each and record its result in one step.
  ARGV[4] the largest result (bytes) a SUCCESS event carries (0: none; lib.lua's emit)
  ARGV[5] '1': the prefix is at format 3 (the finish leaves updated_at out: lib.lua's leanMoves)
  ARGV[6] count, then per job the layout COMPLETION of src/store/wire.ts: id, token, result
          (JSON), and its datalake entry (open at the end: this script adds the finish time) and
          start (ms) as the worker made them from the job it claimed ('' and '': made here;
          lib.lua's appendToLake), and its created_at, queue and parent as that claim read them
          ('', '' and '': read here)
  Returns  one code per job: OK, MISSING or TOKEN_MISMATCH (a late result from a consumer whose
  lease was taken over is refused, never applied twice), or BAD_RESULT for a chunk whose result
  is not a number (checked before anything is written).
  A chunk's result is recorded once per chunk index; the last chunk completes the parent with
  the sum of the chunk results (a chord), in this same step (lib.lua's completeJob). The adapter
  sends the completions of one event-loop turn together: one round trip for many jobs.
]]
local codes = completeRows(4)
flush()
return codes

--[[ keepSpan: a flow node's attempt span's trace context, kept on its record (`span`) by the
  holder of the attempt, with tracing on: its dependents' attempt spans link to it (docs/tracing.md).
  ARGV[4] id  ARGV[5] token  ARGV[6] the context (the traceparent, then a space and the tracestate)
  Returns  OK, MISSING or TOKEN_MISMATCH (the lease lapsed and was taken over: that attempt keeps it).
]]
local id, token, span = ARGV[4], ARGV[5], ARGV[6]
local jobKey, j = holder(id, token)
if not jobKey then return j end
redis.call('HSET', jobKey, 'span', span)
return OK

--[[ addToSum: add to the abacus's running sum in one atomic step (no lost update, any number of nodes).
  ARGV[4] n: the integer to add, in decimal (a signed 64-bit integer)
  Returns  {OK, the new sum}, or {OUT_OF_RANGE, the unchanged sum} when the sum would leave
           [-2^63, 2^63-1]; both sums as decimal strings.
  The bound check is INCRBY's own, in exact 64-bit arithmetic: it refuses with "increment or
  decrement would overflow" and changes nothing. Lua numbers are doubles, so the sum is read back
  with GET as a string, never through a Lua number.
]]
local reply = redis.pcall('INCRBY', K.abacus, ARGV[4])
if type(reply) == 'table' and reply.err then
  if string.find(reply.err, 'overflow', 1, true) then
    return { OUT_OF_RANGE, redis.call('GET', K.abacus) }
  end
  return reply
end
return { OK, redis.call('GET', K.abacus) }

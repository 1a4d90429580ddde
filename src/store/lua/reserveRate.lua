--[[ reserveRate: on a Redis Cluster with sharded queues, a claim on a shard other than the first
  reserves starts in the queue's one rate log, the first shard's (docs/flow-control.md "Rate
  limits"): up to `want` of what the window has left, each an entry at now that counts as a start
  until the claim gives back what it did not use (ZREM of its last members).
  ARGV[4] queue  ARGV[5] want  ARGV[6] reservation id (its members: <id>.1 … <id>.<granted>)
  Returns  {granted, wake}: granted '' when the queue has no rate (the claim takes what it may);
           wake: when the window lets one more start once these are taken ('' while room is left)
]]
local queue, want, id = ARGV[4], argNumber(ARGV[5], 'want'), ARGV[6]
local rateMax, ratePer = rateOf(redis.call('HGET', K.flow(queue), 'rate'))
if not rateMax then return { '', '' } end
local room = rateRoom(K.rateLog(queue), rateMax, ratePer)
local granted = math.min(room, want)
local members = {}
for i = 1, granted do members[i] = id .. '.' .. countStr(i) end
rateTake(K.rateLog(queue), ratePer, members)
local _, at = rateRoom(K.rateLog(queue), rateMax, ratePer)
return { granted, at and string.format('%d', at) or '' }

--[[ removeQueue: forget a queue of this shard that holds no job (DELETE /queues/:name): it leaves
  the set of known queues (so it is no longer listed, reaped or accepted), with its paused flag
  and its markers (its ready sets and markers, ordinary and CPU) and its limits (docs/flow-control.md).
  ARGV[4] queue
  Returns  OK; MISSING when the shard does not know the queue; CONFLICT (nothing changed) when it
  holds jobs here: waiting (of any priority, in its ordinary or CPU lists, or in a group), delayed or held.
]]
local queue = ARGV[4]
if redis.call('SISMEMBER', K.queues, queue) == 0 then return MISSING end
for p = 0, 9 do
  if redis.call('LLEN', K.waitAt(queue, tostring(p))) > 0 or redis.call('LLEN', K.cpuWaitAt(queue, tostring(p))) > 0 then return CONFLICT end
end
for _, cpu in ipairs({ '', '1' }) do
  for _, g in ipairs(redis.call('LRANGE', K.groups(queue, cpu), 0, -1)) do
    if redis.call('ZCARD', K.groupWait(queue, cpu, g)) > 0 then return CONFLICT end
  end
end
if redis.call('ZCARD', K.active(queue)) > 0 or redis.call('ZCARD', K.delayed(queue)) > 0 then return CONFLICT end
redis.call('DEL', K.ready(queue), K.marker(queue), K.cpuReady(queue), K.cpuMarker(queue), K.groups(queue, ''),
  K.groups(queue, '1'), K.flow(queue), K.heldBack(queue)) -- removed in every shard: RedisQueues.remove drops the limits of those that did not know it
redis.call('SREM', K.queues, queue)
return OK

--[[ removeQueue: forget a queue of this shard that holds no job (DELETE /queues/:name): it leaves
  the set of known queues (so it is no longer listed, reaped or accepted), with its paused flag
  and its markers (its ready sets and markers, ordinary and CPU).
  ARGV[4] queue
  Returns  OK; MISSING when the shard does not know the queue; CONFLICT (nothing changed) when it
  holds jobs here: waiting (of any priority, in its ordinary or CPU lists), delayed or held.
]]
local queue = ARGV[4]
if redis.call('SISMEMBER', K.queues, queue) == 0 then return MISSING end
for p = 0, 9 do
  if redis.call('LLEN', K.waitAt(queue, tostring(p))) > 0 or redis.call('LLEN', K.cpuWaitAt(queue, tostring(p))) > 0 then return CONFLICT end
end
if redis.call('ZCARD', K.active(queue)) > 0 or redis.call('ZCARD', K.delayed(queue)) > 0 then return CONFLICT end
redis.call('DEL', K.ready(queue), K.marker(queue), K.cpuReady(queue), K.cpuMarker(queue))
redis.call('SREM', K.queues, queue)
return OK

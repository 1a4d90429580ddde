--[[ flowDeliver: entries of another shard's flow outbox, delivered to this shard (lib-flow.lua's
  deliverFlowEntry): a dep's outcome to its dependent, a part's node counted in its flow's home, a
  cancel. Delivered twice, an entry counts once.
  ARGV[4..] the entries, each as its outbox holds it (JSON)
  Returns  {codes (OK or MISSING, one per entry), 1 when this shard's own outbox holds entries now else 0}
]]
local codes = {}
for i = 4, #ARGV do codes[#codes + 1] = deliverFlowEntry(cjson.decode(ARGV[i])) end
flush()
return { codes, redis.call('ZCARD', K.flowOutbox) > 0 and 1 or 0 }

--[[ releaseLostClaim: give back the jobs of a claim whose answer never reached its consumer (it
  was sent, then the connection was cut or its deadline passed; src/store/lost-claims.ts).
  ARGV[4] queue  ARGV[5] the claim's token base (claimJobs.lua: its jobs' tokens are "<base>.<i>")
  Returns  the number of jobs given back: to the head of the queue, the attempt not counted.
  A job of that claim that was finished or reclaimed meanwhile has another token (or none).
]]
local queue, prefix = ARGV[4], ARGV[5] .. '.'
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K.active(queue), 0, -1)) do
  local token = redis.call('HGET', K.job(id), 'token')
  if token and string.sub(token, 1, #prefix) == prefix then
    local jobKey = K.job(id)
    local j = load(jobKey)
    if j then
      releaseHeld(id, jobKey, j)
      n = n + 1
    end
  end
end
flush()
return n

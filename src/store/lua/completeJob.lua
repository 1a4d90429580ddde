--[[ completeJob: a held job succeeded. Acknowledge it and record its result in one step.
  ARGV[4] id  ARGV[5] token  ARGV[6] result (JSON)
  ARGV[7] bot id (optional): a bot through the API; the token is the one its record keeps, and
          the bot is counted done and free
  Returns  OK, MISSING or TOKEN_MISMATCH (a late result from a consumer whose lease was taken
  over is refused, never applied twice); for a bot also NOT_HOLDER or BOT_MISSING.
  A chunk's result is recorded once per chunk index; the last chunk completes the parent with
  the sum of the chunk results (a chord), in this same step.
]]
local id, token, result, botId = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local jobKey, code = holderOrBot(id, token, botId)
if not jobKey then return code end

local from = redis.call('HGET', jobKey, 'state')
redis.call('HSET', jobKey, 'result', result)
setState(id, jobKey, from, 'SUCCESS')
finish(id, jobKey, 'SUCCESS')
if botId then botDone(botId, 'jobs_done') end

local parentId = redis.call('HGET', jobKey, 'parent_id')
if parentId == '' then return OK end
local parentKey = K.job(parentId)
local pstate = redis.call('HGET', parentKey, 'state')
if not pstate or FINAL[pstate] then return OK end

local index = redis.call('HGET', jobKey, 'chunk_index')
if redis.call('HSETNX', K.chunkResults(parentId), index, result) == 0 then return OK end
local completed = redis.call('HINCRBY', parentKey, 'completed', 1)
local total = tonumber(redis.call('HGET', parentKey, 'total'))
if completed < total then
  setState(parentId, parentKey, pstate, 'PROGRESS')
  return OK
end

local sum = 0
for _, v in ipairs(redis.call('HVALS', K.chunkResults(parentId))) do sum = sum + tonumber(v) end
local created = tonumber(redis.call('HGET', parentKey, 'created_at'))
redis.call('HSET', parentKey, 'result',
  string.format('{"prime_count":%.0f,"duration_sec":%.3f}', sum, (now - created) / 1000))
setState(parentId, parentKey, pstate, 'SUCCESS')
finish(parentId, parentKey, 'SUCCESS')
return OK

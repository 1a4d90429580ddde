/** The Lua scripts build key names themselves (lib.lua); they must agree with src/store/keys.ts. */
import fs from 'node:fs';
import path from 'node:path';
import { asFlowNodeId, isFlowNodeId, redisKeys, shardIdPrefix, shardOfId } from '../../src/store/keys';
import { isJobId, newJobId } from '../../src/core/ids';

const lib = fs.readFileSync(path.join(__dirname, '../../src/store/lua/lib.lua'), 'utf8');

test('every key is hash-tagged with the prefix, so every script touches one slot', () => {
  const k = redisKeys('wizard');
  for (const key of [
    k.job('x'),
    k.wait('q'),
    k.active('q'),
    k.events,
    k.state('DEAD'),
    k.node('worker', 'w'),
    k.lock('l'),
    k.abacus,
  ]) {
    expect(key.startsWith('{wizard}:')).toBe(true);
  }
});

test.each([
  ['job', "base .. 'job:' .. id", (k: ReturnType<typeof redisKeys>) => k.job('ID')],
  ['jobLog', "base .. 'job:' .. id .. ':log'", (k: ReturnType<typeof redisKeys>) => k.jobLog('ID')],
  ['children', "base .. 'job:' .. id .. ':children'", (k: ReturnType<typeof redisKeys>) => k.children('ID')],
  ['chunkResults', "base .. 'job:' .. id .. ':results'", (k: ReturnType<typeof redisKeys>) => k.chunkResults('ID')],
  ['wait', "base .. 'q:' .. q .. ':wait'", (k: ReturnType<typeof redisKeys>) => k.wait('ID')],
  ['active', "base .. 'q:' .. q .. ':active'", (k: ReturnType<typeof redisKeys>) => k.active('ID')],
  ['delayed', "base .. 'q:' .. q .. ':delayed'", (k: ReturnType<typeof redisKeys>) => k.delayed('ID')],
  ['marker', "base .. 'q:' .. q .. ':marker'", (k: ReturnType<typeof redisKeys>) => k.marker('ID')],
  ['cpuWait', "base .. 'q:' .. q .. ':cpuwait'", (k: ReturnType<typeof redisKeys>) => k.cpuWait('ID')],
  ['cpuReady', "base .. 'q:' .. q .. ':cpuready'", (k: ReturnType<typeof redisKeys>) => k.cpuReady('ID')],
  ['cpuMarker', "base .. 'q:' .. q .. ':cpumarker'", (k: ReturnType<typeof redisKeys>) => k.cpuMarker('ID')],
  ['state', "base .. 'state:' .. s", (k: ReturnType<typeof redisKeys>) => k.state('ID')],
  ['counts', "base .. 'counts'", (k: ReturnType<typeof redisKeys>) => k.counts],
  ['schedules', "base .. 'schedules'", (k: ReturnType<typeof redisKeys>) => k.schedules],
  ['lock', "base .. 'lock:' .. name", (k: ReturnType<typeof redisKeys>) => k.lock('ID')],
  ['once', "base .. 'once:' .. name", (k: ReturnType<typeof redisKeys>) => k.once('ID')],
  ['dedupe', "base .. 'dedupe:' .. scope", (k: ReturnType<typeof redisKeys>) => k.dedupe('ID')],
  ['node', "base .. 'node:' .. role .. ':' .. id", (k: ReturnType<typeof redisKeys>) => k.node('ID', 'ID')],
  ['nodes', "base .. 'nodes:' .. role", (k: ReturnType<typeof redisKeys>) => k.nodes('ID')],
  ['bot', "base .. 'bot:' .. id", (k: ReturnType<typeof redisKeys>) => k.bot('ID')],
  ['lake', "base .. 'datalake:' .. day", (k: ReturnType<typeof redisKeys>) => k.lake('ID')],
  ['rate', "base .. 'rate:' .. bucket", (k: ReturnType<typeof redisKeys>) => k.rate('ID')],
  ['budget', "base .. 'budget:' .. bucket", (k: ReturnType<typeof redisKeys>) => k.budget('ID')],
  ['lakeStats', "base .. 'datalake:' .. day .. ':stats'", (k: ReturnType<typeof redisKeys>) => k.lakeStats('ID')],
])('lib.lua builds %s as keys.ts does', (_name, luaExpr, build) => {
  expect(lib).toContain(luaExpr);
  const k = redisKeys('p');
  // evaluate the Lua concatenation with base = '{p}:' and the one variable = 'ID'
  const evaluated = luaExpr
    .split(' .. ')
    .map((part) => (part === 'base' ? '{p}:' : part.startsWith("'") ? part.slice(1, -1) : 'ID'))
    .join('');
  expect(evaluated).toBe(build(k));
});

test('the fixed keys agree too', () => {
  const k = redisKeys('p');
  expect(lib).toContain("jobs = base .. 'jobs'");
  expect(lib).toContain("dlq = base .. 'dlq'");
  expect(lib).toContain("events = base .. 'events'");
  expect(lib).toContain("abacus = base .. 'abacus'");
  expect([k.jobs, k.dlq, k.events, k.abacus]).toEqual(['{p}:jobs', '{p}:dlq', '{p}:events', '{p}:abacus']);
});

test('the fixed keys of bots, batches and the datalake agree too', () => {
  const k = redisKeys('p');
  const fixed = {
    queues: k.queues,
    bots: k.bots,
    botsUp: k.botsUp,
    botTokens: k.botTokens,
    config: k.config,
    lakeDays: k.lakeDays,
    lakeBuffer: k.lakeBuffer,
  };
  for (const [name, key] of Object.entries(fixed))
    expect(lib).toContain(`${name} = base .. '${key.slice('{p}:'.length)}'`);
});

test('the history scripts name a bucket as keys.ts does', () => {
  for (const script of ['recordHistory', 'readHistory']) {
    expect(fs.readFileSync(path.join(__dirname, `../../src/store/lua/${script}.lua`), 'utf8')).toContain(
      "base .. 'history:' .. string.format('%d', start)",
    );
  }
  expect(redisKeys('p').history(1_700_000_000_000)).toBe('{p}:history:1700000000000');
});

test('a flow node id is a UUID of its own version (8) in any shard, which lib.lua reads at the same place', () => {
  for (const id of ['0b4fc9d2-6b55-4d0e-9d2a-3f1c2a7e9b10', 's12-0b4fc9d2-6b55-4d0e-9d2a-3f1c2a7e9b10']) {
    expect(isFlowNodeId(id)).toBe(false);
    const node = asFlowNodeId(id);
    expect(node).toBe(id.replace('-4d0e-', '-8d0e-'));
    expect(isFlowNodeId(node)).toBe(true);
    expect(isJobId(node)).toBe(true);
    expect(node.charCodeAt(node.length - 22)).toBe(56); // lib.lua: string.byte(id, #id - 21) == 56
    expect(node.charCodeAt(node.length - 23)).toBe(45); // and string.byte(id, #id - 22) == 45
  }
});

test('a new job id is 16 base32 characters, in its shard, never a flow node id', () => {
  const ids = Array.from({ length: 10_000 }, () => newJobId());
  expect(new Set(ids).size).toBe(10_000);
  for (const id of ids) expect(id).toMatch(/^[0-9abcdefghjkmnpqrstvwxyz]{16}$/);
  const seen = new Set(ids.join(''));
  expect(seen.size).toBe(32); // every character of the alphabet is drawn
  for (const shard of [0, 1, 8, 18, 128, 1018]) {
    const id = shardIdPrefix(shard) + ids[shard];
    expect(isJobId(id)).toBe(true);
    expect(isFlowNodeId(id)).toBe(false);
    expect(shardOfId(id)).toBe(shard);
  }
  for (const bad of [
    ids[0].slice(1),
    ids[0] + 'a',
    ids[0].replace(/^./, 'u'),
    ids[0].toUpperCase(),
    `${ids[0]}:results`,
  ])
    expect(isJobId(bad)).toBe(false);
});

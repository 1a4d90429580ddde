/**
 * Seed 003 for real: three `wizard api` processes on one Redis, 64 concurrent clients, 10,000
 * adds of random signed integers (up to ±(2^53-1), so the sum leaves the safe-integer range and
 * must stay exact) spread over the nodes. Not one add may be lost, in either strategy.
 */
import { freePort } from '../helpers/redis-server';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { jsonAgent } from '../helpers/json-agent';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

const ADDS = 10_000;
const CLIENTS = 64;

interface AddReply {
  new_sum: number | string;
  added: number;
  node_id: string;
  conflicts: number;
}

/** a random integer in ±(2^53-1) */
const randomAddend = () => {
  const n = Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
  return Math.random() < 0.5 ? -n : n;
};

async function startCluster(name: string, env: Record<string, string> = {}) {
  const fullEnv = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix(name),
    LOG_LEVEL: 'warn',
    ADMIN_TOKEN: 'cluster-admin-token-0123',
    ...env,
  };
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = ports.map((port, i) =>
    spawnWizard(['api', '--node-id', `api-${i + 1}`, '--port', String(port)], fullEnv, `api-${i + 1}`),
  );
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  await Promise.all(urls.map((u) => waitUntil(() => fetch(`${u}/healthz`).then((r) => r.ok), 15_000, `${u}/healthz`)));
  return { procs, urls };
}

/** CLIENTS workers take adds from one counter until ADDS have succeeded; a 409 is retried */
async function hammer(urls: string[]) {
  const client = jsonAgent(CLIENTS);
  const added: bigint[] = [];
  let next = 0;
  let ok = 0;
  let retried409 = 0;
  let conflicts = 0;
  const nodes = new Set<string>();
  const worker = async (w: number) => {
    for (let i = next++; i < ADDS; i = next++) {
      const number = randomAddend();
      for (let attempt = 0; ; attempt++) {
        const res = await client.request<AddReply>('POST', `${urls[(w + i + attempt) % urls.length]}/abacus/number`, {
          number,
        });
        if (res.status === 409) {
          retried409++;
          continue;
        }
        if (res.status !== 200) throw new Error(`add ${number}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        expect(res.body.added).toBe(number);
        ok++;
        conflicts += res.body.conflicts;
        nodes.add(res.body.node_id);
        added.push(BigInt(number));
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w))).finally(client.close);
  return { ok, retried409, conflicts, nodes, expected: added.reduce((s, n) => s + n, 0n) };
}

/** the sum as the API answers it: a JSON number while safe, an exact decimal string beyond */
const asBigInt = (v: number | string) => {
  if (typeof v === 'number') expect(Number.isSafeInteger(v)).toBe(true);
  else expect(BigInt(v) > BigInt(Number.MAX_SAFE_INTEGER) || BigInt(v) < -BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  return BigInt(v);
};

test('atomic: 10,000 concurrent adds over 3 nodes, not one lost', async () => {
  const { procs, urls } = await startCluster('abacus-atomic');
  expect((await http('DELETE', `${urls[0]}/abacus/sum`)).status).toBe(401);
  expect(
    (await http('DELETE', `${urls[0]}/abacus/sum`, undefined, { authorization: 'Bearer cluster-admin-token-0123' }))
      .status,
  ).toBe(200);
  const r = await hammer(urls);
  expect(r.ok).toBe(ADDS);
  expect(r.retried409).toBe(0);
  expect(r.conflicts).toBe(0);
  expect([...r.nodes].sort()).toEqual(['api-1', 'api-2', 'api-3']);
  for (const url of urls) {
    const { body } = await http<{ sum: number | string }>('GET', `${url}/abacus/sum`);
    expect(asBigInt(body.sum)).toBe(r.expected);
  }
  const health = await http<{ current_sum: number | string; abacus: { adds: number } }>('GET', `${urls[1]}/health`);
  expect(asBigInt(health.body.current_sum)).toBe(r.expected);
  const adds = await Promise.all(
    urls.map(async (u) => (await http<{ abacus: { adds: number } }>('GET', `${u}/health`)).body.abacus.adds),
  );
  expect(adds.reduce((s, n) => s + n, 0)).toBe(ADDS);
  expect(await Promise.all(procs.map((p) => p.kill('SIGTERM')))).toEqual([0, 0, 0]);
}, 60_000);

test('optimistic: conflicts happen, are retried (409s too), and the sum is still exact', async () => {
  const { procs, urls } = await startCluster('abacus-optimistic', { ABACUS_STRATEGY: 'optimistic' });
  const r = await hammer(urls);
  expect(r.ok).toBe(ADDS);
  expect(r.conflicts).toBeGreaterThan(0);
  const { body } = await http<{ sum: number | string }>('GET', `${urls[2]}/abacus/sum`);
  expect(asBigInt(body.sum)).toBe(r.expected);
  // each node counted what it saw: every conflict, every add, every add that gave up (409)
  const counts = await Promise.all(
    urls.map(
      async (u) =>
        (
          await http<{ abacus: { strategy: string; adds: number; conflicts: number; retries_exhausted: number } }>(
            'GET',
            `${u}/health`,
          )
        ).body.abacus,
    ),
  );
  expect(counts.every((c) => c.strategy === 'optimistic')).toBe(true);
  expect(counts.reduce((s, c) => s + c.adds, 0)).toBe(ADDS);
  expect(counts.reduce((s, c) => s + c.retries_exhausted, 0)).toBe(r.retried409);
  expect(counts.reduce((s, c) => s + c.conflicts, 0)).toBeGreaterThanOrEqual(r.conflicts);
  expect(await Promise.all(procs.map((p) => p.kill('SIGTERM')))).toEqual([0, 0, 0]);
}, 60_000);

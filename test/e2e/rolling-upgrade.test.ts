/**
 * A rolling upgrade and its reverse, with real processes (docs/operations.md "Upgrading: roll
 * it"): the previous release, built from its tag (test/helpers/release.ts), runs as api, worker
 * and scheduler (and a bot) on one Redis under a steady load of tasks, prime counts and bot jobs; each role
 * is replaced by this version, one at a time, a new one started before the old one stops (an old
 * and a new worker claim from the same queue meanwhile), then each back by the previous release,
 * in the reverse order. Every job accepted with a 2xx finishes once, with its exact result and
 * one attempt; every role stops with 0 when asked; no answer is a 5xx but a 503. `wizard upgrade
 * finish` refuses while a real old worker runs, and the old release's roles are refused once it
 * switched the format.
 */
import http from 'node:http';
import net from 'node:net';
import { createClient } from 'redis';
import { FORMAT_VERSION, ROLLING_FORMAT } from '../../src/store/format';
import { redisKeys } from '../../src/store/keys';
import { RedisStore } from '../../src/store/redis';
import { successCounts } from '../helpers/events';
import { killAll, runWizardAsync, spawnWizard, waitUntil, type WizardProc } from '../helpers/procs';
import { buildRelease, type Release } from '../helpers/release';
import { freePort, startRedisServer, type TestRedis } from '../helpers/redis-server';

jest.setTimeout(240_000);

let redis: TestRedis;
let old: Release;
const prefix = 'rolling';
/** what the test opens, closed after it whatever happened */
const closers: (() => Promise<unknown>)[] = [];

/** π(n) for the counts the load asks for */
const PRIMES_UP_TO: Record<number, number> = { 10_000: 1229, 20_000: 2262, 30_000: 3245, 50_000: 5133 };

beforeAll(async () => {
  old = buildRelease(); // once per commit: later runs find it under node_modules/.cache
  redis = await startRedisServer();
}, 600_000);

afterAll(async () => {
  await killAll();
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await redis?.destroy();
});

/** a TCP forwarder in front of the API nodes, as a Service is: new connections go to the current target */
async function service() {
  let target = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    route: (to: number) => (target = to),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** one request on a connection of its own (a swap of API nodes closes kept-alive ones) */
function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      { method, agent: false, headers: data ? { 'content-type': 'application/json' } : {}, timeout: 10_000 },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* the test sees the text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timed out')));
    req.end(data);
  });
}

interface Accepted {
  id: string;
  kind: 'task' | 'primes' | 'sim';
  expect: unknown;
}

/** a steady load through the service: a task, a prime count and a bot job every tick */
function startLoad(api: string) {
  const accepted: Accepted[] = [];
  const bad: string[] = [];
  let refused = 0;
  let lost = 0;
  let stopped = false;
  let i = 0;
  const submit = async (kind: Accepted['kind'], path: string, body: unknown, expect: unknown) => {
    try {
      const r = await call(`${api}${path}`, 'POST', body);
      const { task_id, job_id } = r.body as { task_id?: string; job_id?: string };
      if (r.status >= 200 && r.status < 300) accepted.push({ id: (task_id ?? job_id)!, kind, expect });
      else if (r.status === 503) refused++;
      else bad.push(`${path} → ${r.status} ${JSON.stringify(r.body)}`);
    } catch {
      lost++; // no answer (an API node stopping): not accepted
    }
  };
  const loop = (async () => {
    while (!stopped) {
      i++;
      const n = [10_000, 20_000, 30_000, 50_000][i % 4];
      await Promise.all([
        submit('task', '/task', { a: i, b: 7 }, i + 7),
        submit('primes', '/api/count-primes', { n, chunks: 2 + (i % 3) }, PRIMES_UP_TO[n]),
        submit(
          'sim',
          '/jobs',
          { type: 'sim', queue: 'bots', params: { duration_ms: 5, failure_rate: 0 } },
          { ok: true },
        ),
        new Promise((r) => setTimeout(r, 250)),
      ]);
    }
  })();
  return {
    accepted,
    bad,
    counts: () => ({ accepted: accepted.length, refused, lost }),
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

type Version = 'old' | 'new';

test('previous release → this version one role at a time, and back; every accepted job runs once, exactly', async () => {
  const svc = await service();
  closers.push(svc.close);
  const env = { REDIS_URL: redis.url, WIZARD_PREFIX: prefix, LOG_LEVEL: 'info' };
  const bin = (v: Version) => (v === 'old' ? { bin: old.bin } : {});
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined); // the server stops after the test
  await raw.connect();
  closers.push(async () => raw.destroy());
  const store = await new RedisStore({ url: redis.url, prefix }).connect();
  closers.push(() => store.close());
  let seq = 0;
  const exits: { name: string; code: number | string }[] = [];
  const stop = async (p: WizardProc) => exits.push({ name: p.name, code: await p.kill('SIGTERM') });

  const api = async (v: Version) => {
    const port = await freePort();
    const p = spawnWizard(
      ['api', '--port', String(port), '--node-id', `api-${v}-${++seq}`],
      env,
      `api-${v}-${seq}`,
      bin(v),
    );
    await p.waitForOutput(/api listening/);
    return { p, port };
  };
  const worker = async (v: Version) => {
    const p = spawnWizard(
      ['worker', '--threads', '1', '--concurrency', '4', '--node-id', `worker-${v}-${++seq}`],
      env,
      `worker-${v}-${seq}`,
      bin(v),
    );
    await p.waitForOutput(/worker started/);
    return p;
  };
  const scheduler = async (v: Version) => {
    const p = spawnWizard(
      [
        'scheduler',
        '--populate-interval-ms',
        '3000',
        '--batch-size',
        '2',
        '--job-params',
        '{"duration_ms":5,"failure_rate":0}',
        '--node-id',
        `scheduler-${v}-${++seq}`,
      ],
      env,
      `scheduler-${v}-${seq}`,
      bin(v),
    );
    await p.waitForOutput(/scheduler started|leading|standing by/);
    return p;
  };

  // the previous release, whole, and a bot of it (bots speak HTTP only) through the service
  let a = await api('old');
  svc.route(a.port);
  let w = await worker('old');
  let s = await scheduler('old');
  expect(await raw.get(redisKeys(prefix).format)).toBe(String(ROLLING_FORMAT));
  const bot = async (v: Version) => {
    const p = spawnWizard(
      ['bot', '--api', svc.url, '--poll-ms', '100'],
      { LOG_LEVEL: 'info' },
      `bot-${v}-${++seq}`,
      bin(v),
    );
    await p.waitForOutput(/registered/);
    return p;
  };
  let b = await bot('old');
  const from = '0';
  const load = startLoad(svc.url);
  closers.push(() => load.stop());
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await pause(1500);

  /** replace each role, one at a time: the next starts, serves beside the last a moment, the last stops */
  const roll = async (to: Version, order: ('api' | 'worker' | 'scheduler' | 'bot')[]) => {
    for (const role of order) {
      if (role === 'api') {
        const next = await api(to);
        svc.route(next.port);
        await pause(1000);
        await stop(a.p);
        a = next;
      } else if (role === 'worker') {
        const next = await worker(to);
        await pause(2000); // two versions claim from the same queue
        if (to === 'new') {
          // a real worker of the previous release is alive: finishing is refused, and names it
          const refused = await runWizardAsync(['upgrade', 'finish'], env);
          expect(refused).toMatchObject({ code: 2, stdout: '' });
          expect(refused.stderr).toContain(`worker ${w.name} (no version: older)`);
          expect(await raw.get(redisKeys(prefix).format)).toBe(String(ROLLING_FORMAT));
        }
        await stop(w);
        w = next;
      } else if (role === 'bot') {
        const next = await bot(to);
        await pause(1000);
        await stop(b);
        b = next;
      } else {
        const next = await scheduler(to);
        await pause(1000);
        await stop(s);
        s = next;
      }
      await pause(1000);
    }
  };

  await roll('new', ['api', 'worker', 'scheduler', 'bot']);
  const status = await runWizardAsync(['upgrade', 'status', '--json'], env);
  expect(status.code).toBe(0);
  const seen = JSON.parse(status.stdout) as { roles: { role: string; version: string | null }[]; older: number };
  expect(seen.older).toBe(0);
  expect(seen.roles.map((r) => r.role).sort()).toEqual(['api', 'scheduler', 'worker']);
  await roll('old', ['bot', 'scheduler', 'worker', 'api']);
  await pause(1000);
  await load.stop();

  // every accepted job finishes, once, with its exact result, in one attempt
  const { accepted, bad } = load;
  expect(bad).toEqual([]);
  expect(accepted.length).toBeGreaterThan(30);
  const k = redisKeys(prefix);
  const unfinished = async () => {
    const left: string[] = [];
    for (const j of accepted) {
      const state = await raw.hGet(k.job(j.id), 'state');
      if (state !== 'SUCCESS') left.push(`${j.kind} ${j.id} ${state}`);
    }
    return left;
  };
  await waitUntil(async () => (await unfinished()).length === 0, 60_000, 'every accepted job SUCCESS', 250).catch(
    () => undefined,
  );
  expect(await unfinished()).toEqual([]);
  for (const j of accepted) {
    const rec = await raw.hGetAll(k.job(j.id));
    const result = JSON.parse(rec.result) as unknown;
    if (j.kind === 'primes') {
      expect({ id: j.id, count: (result as { prime_count: number }).prime_count }).toEqual({
        id: j.id,
        count: j.expect,
      });
      for (const chunk of await raw.lRange(k.children(j.id), 0, -1))
        expect({ chunk, ...(await raw.hmGet(k.job(chunk), ['state', 'attempts'])) }).toEqual({
          chunk,
          0: 'SUCCESS',
          1: '1',
        });
    } else {
      expect({ id: j.id, result: j.kind === 'sim' ? { ok: (result as { ok: boolean }).ok } : result }).toEqual({
        id: j.id,
        result: j.expect,
      });
      expect({ id: j.id, attempts: rec.attempts }).toEqual({ id: j.id, attempts: '1' });
    }
  }
  const successes = await successCounts(store, from);
  for (const j of accepted) expect({ id: j.id, successes: successes.get(j.id) }).toEqual({ id: j.id, successes: 1 });

  // every role stopped with 0 when asked, and the last ones are running still
  for (const p of [a.p, w, s, b]) expect({ name: p.name, exit: p.proc.exitCode }).toEqual({ name: p.name, exit: null });
  await Promise.all([stop(a.p), stop(w), stop(s), stop(b)]);
  expect(exits.filter((e) => e.code !== 0)).toEqual([]);

  // with no older role left, finishing switches the format; the previous release then stops at start
  const finished = await runWizardAsync(['upgrade', 'finish'], env);
  expect(finished).toMatchObject({ code: 0 });
  expect(await raw.get(k.format)).toBe(String(FORMAT_VERSION));
  const late = await runWizardAsync(['worker', '--threads', '1'], { ...env, LOG_LEVEL: 'warn' }, { bin: old.bin });
  expect(late.code).toBe(2);
  expect(late.stderr).toContain(`has format ${FORMAT_VERSION}, newer than this wizard's ${ROLLING_FORMAT}`);

  console.log(JSON.stringify({ release: old.name, sha: old.sha, ...load.counts() }));
});

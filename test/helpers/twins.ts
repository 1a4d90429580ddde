/**
 * Twin stores: the Redis adapter and the in-memory one driven in lock step, with one clock, and
 * their raw data compared after every step. lib.lua and the scripts are the truth; the memory
 * adapter copies them, and this is what keeps the copy exact: the job hash (HGETALL of the job
 * key) against the memory record rendered the same way, and every queue structure with a clear
 * equivalent (the wait list of each kind and priority, the lease and delayed sets, paused), the per-state
 * indexes and counts, the listing of all jobs (its ids, creation times and total: at format 3
 * Redis's all-jobs index leaves out the jobs in a plain wait list, which the listing finds there,
 * and keeps the entry of a job that went back to its queue, so the index itself is no twin of
 * the memory adapter's), the dead-letter set, the children lists and the bot records, and the
 * debounce or throttle windows.
 *
 * A record's updated_at is compared as its readers take it (the latest of it, started_at and
 * finished_at: at format 3 Redis's claim and completion leave it out).
 *
 * Claim tokens are random per claim ("<consumer>:<random>.<n>"): both sides' random part reads
 * as '*'. Everything else must be equal, value for value (job ids are given by the scenario).
 */
import { createClient } from 'redis';
import { dedupeScope, JOB_STATES, MAX_PRIORITY } from '../../src/core/job';
import { keyBase, keysAt } from '../../src/store/keys';
import { MemoryStore } from '../../src/store/memory';
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/types';
import { OMITTED } from '../../src/store/wire';
import { stateOfRecord, updatedAtOf } from '../../src/store/codec';
import { testPrefix, testRedisUrl } from './env';
import { manualClock } from './stores';

/** what both stores hold, in Redis's terms: key → value (a hash, a list or a zset as pairs) */
export type RawView = Record<string, unknown>;

const TOKEN = /:[0-9a-f-]{13}\.(\d+)/g;
const untoken = (s: string) => s.replace(TOKEN, ':*.$1');
const hash = (fields: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(fields)
      .map(([k, v]) => [k, untoken(v)])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
/** a zset as ZRANGE WITHSCORES answers it, as [member, score] pairs */
const zpairs = (z: Iterable<[string, number]>) =>
  [...z].map(([m, s]) => [m, Number(s)] as [string, number]).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));

export interface Twins {
  redis: RedisStore;
  memory: MemoryStore;
  clock: ReturnType<typeof manualClock>;
  /** run the same operation on both stores; answers both outcomes (a value, or the error's class and message) */
  both<T>(op: (s: Store) => Promise<T>): Promise<{ redis: Outcome<T>; memory: Outcome<T> }>;
  /** both stores' raw data for these jobs, queues and bots */
  views(): Promise<{ redis: RawView; memory: RawView }>;
  close(): Promise<void>;
}
export type Outcome<T> = { ok: T } | { error: string };

export async function makeTwins(name: string, opts: { resultTtlMs?: number } = {}): Promise<Twins> {
  const clock = manualClock(1_700_000_000_000);
  const prefix = testPrefix(name);
  const common = { now: clock.now, resultTtlMs: opts.resultTtlMs ?? 60_000 };
  const redis = new RedisStore({ url: testRedisUrl(), prefix, ...common });
  await redis.connect();
  const memory = new MemoryStore(common);
  const client = createClient({ url: testRedisUrl() });
  await client.connect();
  const k = keysAt(keyBase(prefix));
  const jobs = new Set<string>();
  const queues = new Set<string>();
  const bots = new Set<string>();
  /** the debounce or throttle windows of the jobs answered (dedupeScope) */
  const windows = new Set<string>();
  const learn = (v: unknown) => {
    // job, queue and bot names from what the stores answered: the view covers all of them
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) return x.forEach(walk);
      if (x && typeof x === 'object') {
        const o = x as Record<string, unknown>;
        if (typeof o.id === 'string' && typeof o.state === 'string') jobs.add(o.id);
        const d = o.dedupe as { key?: string } | undefined;
        if (typeof o.id === 'string' && d?.key) windows.add(dedupeScope(o as Parameters<typeof dedupeScope>[0], d.key));
        if (typeof o.queue === 'string' && o.queue !== '') queues.add(o.queue);
        if (typeof o.id === 'string' && 'status' in o && 'jobsDone' in o) bots.add(o.id);
        Object.values(o).forEach(walk);
      }
    };
    walk(v);
  };
  const run = async <T>(store: Store, op: (s: Store) => Promise<T>): Promise<Outcome<T>> => {
    try {
      const ok = await op(store);
      learn(ok);
      return { ok };
    } catch (err) {
      return { error: `${(err as Error).constructor.name}: ${untoken((err as Error).message)}` };
    }
  };

  /** the listing of all jobs, newest first: ids with their creation time, and the total */
  const allJobs = async (store: Store) => {
    const { total, jobs: listed } = await store.reads.list({ limit: 10_000 });
    return { total, jobs: listed.map((j) => [j.id, j.createdAt]) };
  };

  async function redisView(): Promise<RawView> {
    const out: RawView = {};
    for (const id of [...jobs].sort()) {
      out[`job:${id}`] = hash(asRead(withState(await client.hGetAll(k.job(id)))));
      out[`job:${id}:children`] = await client.lRange(k.children(id), 0, -1);
    }
    for (const q of [...queues].sort()) {
      for (let p = 0; p <= MAX_PRIORITY; p++)
        out[`q:${q}:wait:${p}`] = (await client.lRange(k.waitAt(q, p), 0, -1)).reverse(); // head (RPOP) first
      for (let p = 0; p <= MAX_PRIORITY; p++)
        out[`q:${q}:cpuwait:${p}`] = (await client.lRange(k.cpuWaitAt(q, p), 0, -1)).reverse();
      out[`q:${q}:active`] = zpairs(
        pairsOf(await client.sendCommand(['ZRANGE', k.active(q), '0', '-1', 'WITHSCORES'])),
      );
      out[`q:${q}:delayed`] = zpairs(
        pairsOf(await client.sendCommand(['ZRANGE', k.delayed(q), '0', '-1', 'WITHSCORES'])),
      );
      out[`q:${q}:paused`] = (await client.zScore(k.ready(q), 'paused')) !== null;
      for (const cpu of ['', '1']) {
        const ring = await client.lRange(k.groups(q, cpu), 0, -1);
        out[`q:${q}:groups:${cpu}`] = ring;
        for (const g of [...new Set(ring)].sort())
          out[`q:${q}:g:${cpu}:${g}`] = await client.zRange(k.groupWait(q, cpu, g), 0, -1); // head (ZPOPMIN) first
      }
      out[`q:${q}:grunning`] = await client.hGetAll(k.groupRunning(q));
      out[`q:${q}:gheld`] = await client.hGetAll(k.groupHeld(q));
    }
    for (const s of JOB_STATES)
      out[`state:${s}`] = zpairs(pairsOf(await client.sendCommand(['ZRANGE', k.state(s), '0', '-1', 'WITHSCORES'])));
    out.counts = nonZero(await client.hGetAll(k.counts));
    out.jobs = await allJobs(redis);
    out.dlq = zpairs(pairsOf(await client.sendCommand(['ZRANGE', k.dlq, '0', '-1', 'WITHSCORES'])));
    for (const b of [...bots].sort()) out[`bot:${b}`] = hash(await client.hGetAll(k.bot(b)));
    for (const w of [...windows].sort()) out[`dedupe:${w}`] = hash(await client.hGetAll(k.dedupe(w)));
    return out;
  }

  /** a Redis record as its readers take it: a lean one (format 3) has no state while PENDING (stateOfRecord) */
  const withState = (rec: Record<string, string>): Record<string, string> => {
    const state = stateOfRecord(rec.state, rec.created_at);
    return state === null ? rec : { ...rec, state };
  };

  /**
   * a record's updated_at as its readers take it (codec.ts updatedAtOf): at format 3 Redis's claim
   * and completion leave it out where the started_at or finished_at they write says it
   */
  const asRead = (rec: Record<string, string>): Record<string, string> => {
    const at = updatedAtOf(rec);
    return at === null ? rec : { ...rec, updated_at: String(at) };
  };

  /**
   * a memory record as Redis holds it: the memory twin keeps its records whole (objects, not
   * bytes); at format 3 Redis leaves out the fields that hold wire.ts's OMITTED values
   */
  const atRest = (rec: Record<string, string>): Record<string, string> => {
    const out = { ...rec };
    for (const [f, v] of Object.entries(OMITTED)) if (out[f] === String(v)) delete out[f];
    return out;
  };

  async function memoryView(): Promise<RawView> {
    const m = memory.inside();
    const out: RawView = {};
    for (const id of [...jobs].sort()) {
      const rec = m.record(id);
      out[`job:${id}`] = hash(rec ? asRead(atRest(rec)) : {});
      out[`job:${id}:children`] = rec ? [...(m.children.get(id) ?? [])] : [];
    }
    for (const q of [...queues].sort()) {
      const queue = m.queues.get(q);
      for (let p = 0; p <= MAX_PRIORITY; p++) out[`q:${q}:wait:${p}`] = [...(queue?.waits[p] ?? [])];
      for (let p = 0; p <= MAX_PRIORITY; p++) out[`q:${q}:cpuwait:${p}`] = [...(queue?.cpuWaits[p] ?? [])];
      out[`q:${q}:active`] = zpairs(queue?.active ?? []);
      out[`q:${q}:delayed`] = zpairs(queue?.delayed ?? []);
      out[`q:${q}:paused`] = queue?.paused ?? false;
      for (const cpu of ['', '1']) {
        const lane = queue?.lanes[cpu];
        out[`q:${q}:groups:${cpu}`] = [...(lane?.ring ?? [])];
        for (const g of [...new Set(lane?.ring ?? [])].sort())
          out[`q:${q}:g:${cpu}:${g}`] = (lane?.waits.get(g) ?? []).flat();
      }
      out[`q:${q}:grunning`] = Object.fromEntries([...(queue?.groupRunning ?? [])].map(([g, n]) => [g, String(n)]));
      out[`q:${q}:gheld`] = Object.fromEntries(queue?.groupHeld ?? []);
    }
    for (const s of JOB_STATES) out[`state:${s}`] = zpairs(m.states.get(s) ?? []);
    out.counts = nonZero(Object.fromEntries([...m.counts].map(([s, n]) => [s, String(n)])));
    out.jobs = await allJobs(memory);
    out.dlq = zpairs(m.dlq);
    for (const b of [...bots].sort()) out[`bot:${b}`] = hash(m.bots.get(b) ?? {});
    for (const w of [...windows].sort()) {
      // the hash enqueueDeduped.lua writes (its expiry is Redis's own: not compared)
      const window = m.windows.get(w);
      out[`dedupe:${w}`] = hash(
        window
          ? {
              job: window.jobId,
              mode: window.mode,
              type: window.type,
              ...(window.cap === null ? {} : { cap: String(window.cap) }),
            }
          : {},
      );
    }
    return out;
  }

  return {
    redis,
    memory,
    clock,
    async both(op) {
      return { redis: await run(redis, op), memory: await run(memory, op) };
    },
    async views() {
      return { redis: await redisView(), memory: await memoryView() };
    },
    async close() {
      await client.quit();
      await redis.close();
      await memory.close();
    },
  };
}

function pairsOf(flat: unknown): [string, number][] {
  const a = flat as string[];
  const out: [string, number][] = [];
  for (let i = 0; i < a.length; i += 2) out.push([a[i], Number(a[i + 1])]);
  return out;
}

/** a counts hash without its zero entries (HINCRBY leaves a 0 where the memory map has none) */
function nonZero(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(h)
      .filter(([, n]) => n !== '0')
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

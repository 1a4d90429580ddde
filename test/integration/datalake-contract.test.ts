/**
 * The datalake's contract on disk: finishing steps append to the store's buffer (one per shard),
 * the drainer writes each record once to its UTC day's file and trims the buffer, a crash at any
 * point between the two doubles nothing, and the read side sees every record once while part of
 * it still waits in the buffer. Runs on memory, Redis and a Redis Cluster.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { lakeEntry, lakeEntryUnfinished, utcDay } from '../../src/core/datalake';
import type { NewJob } from '../../src/core/job';
import { drainLake, lakeFiles } from '../../src/roles/datalake/drain';
import type { DayFiles } from '../../src/roles/datalake/files';
import { lakeDays, lakeLines } from '../../src/roles/datalake/read';
import type { Store } from '../../src/store/types';
import { testRedisUrl } from '../helpers/env';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

useTestCluster();

const sim = (): NewJob => ({ type: 'sim', queue: 'lake', params: { duration_ms: 1, failure_rate: 0 } });
const DAY = 86_400_000;

describe.each(WITH_CLUSTER)('datalake contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  let dir: string;
  let files: DayFiles;

  beforeEach(async () => {
    clock = manualClock(Date.parse('2026-03-10T12:00:00.000Z'));
    store = await makeStore(adapter, 'lake-contract', { now: clock.now });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lake-'));
    files = lakeFiles(store, dir);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** finish n jobs (one completion each): their ids, in the order they finished */
  const finish = async (n: number): Promise<string[]> => {
    const jobs = await store.jobs.enqueue(Array.from({ length: n }, sim));
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const [j] = (await store.jobs.claim('lake', { consumer: 'w', max: 1, leaseMs: 10_000 })).jobs;
      await store.jobs.complete(j.job.id, j.token, i);
      ids.push(j.job.id);
    }
    expect(new Set(ids)).toEqual(new Set(jobs.map((j) => j.id)));
    return ids;
  };
  /** the ids in a day file, as written */
  const inFile = (day: string): string[] => {
    const f = files.file(day);
    if (!fs.existsSync(f)) return [];
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { job_id: string }).job_id);
  };
  const exported = async (day: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const page of lakeLines(store, files, day))
      out.push(...page.map((l) => (JSON.parse(l) as { job_id: string }).job_id));
    return out;
  };
  const dayOf = async () => (await store.lake.days()).map((d) => d.date);

  test('records wait in the buffer; a drain writes each once to its day file and empties the buffer', async () => {
    const first = await finish(4);
    const [day1] = await dayOf();
    clock.advance(DAY);
    const second = await finish(3);
    const days = await dayOf();
    expect(await store.lake.backlog()).toBeGreaterThan(0);
    expect(inFile(day1)).toEqual([]);
    // nothing drained yet: the read side sees them all, from the buffer
    expect((await exported(day1)).sort()).toEqual([...first].sort());

    const done = await drainLake(store, files);
    expect(done.records).toBe(7);
    expect(await store.lake.backlog()).toBe(0);
    if (days.length === 1) {
      // Redis's own clock put both finishes on one day
      expect(inFile(days[0]).sort()).toEqual([...first, ...second].sort());
    } else {
      expect(inFile(days[0]).sort()).toEqual([...first].sort());
      expect(inFile(days[1]).sort()).toEqual([...second].sort());
    }
    for (const d of days) expect((await exported(d)).sort()).toEqual(inFile(d).sort());
    // the counters: the store's, and the file's mark agrees
    const counted = await lakeDays(store, files);
    expect(counted.reduce((n, d) => n + d.total, 0)).toBe(7);
    expect((await files.days()).reduce((n, d) => n + d.total, 0)).toBe(7);
    expect(await drainLake(store, files)).toEqual({ records: 0, entries: 0 });
  });

  test('a drainer that crashed after writing, before trimming, writes nothing twice', async () => {
    const first = await finish(3);
    const [day] = await dayOf();
    // the crash: every buffer's entries written and marked, none trimmed
    for (const b of await store.lake.buffers()) await files.append(day, b, await store.lake.pending(b, '', 1000));
    expect(inFile(day).sort()).toEqual([...first].sort());
    expect(await store.lake.backlog()).toBeGreaterThan(0);
    // the read side does not show them twice meanwhile
    expect((await exported(day)).sort()).toEqual([...first].sort());
    const second = await finish(2);
    await drainLake(store, files);
    expect(inFile(day).sort()).toEqual([...first, ...second].sort());
    expect(await store.lake.backlog()).toBe(0);
  });

  test('a drainer that crashed after writing lines, before its mark, leaves them unread and writes them once', async () => {
    const first = await finish(2);
    const [day] = await dayOf();
    await drainLake(store, files);
    const second = await finish(2);
    // the crash: lines past the mark (a whole one and a torn one), the mark and the buffer as they were
    fs.appendFileSync(files.file(day), `${JSON.stringify({ job_id: second[0] })}\n{"job_id":"torn`);
    expect((await exported(day)).sort()).toEqual([...first, ...second].sort());
    await drainLake(store, files);
    expect(inFile(day).sort()).toEqual([...first, ...second].sort());
    expect((await exported(day)).sort()).toEqual([...first, ...second].sort());
  });

  test('the retention deletes day files; days only the files know are still counted', async () => {
    await finish(2);
    const [day] = await dayOf();
    await drainLake(store, files);
    expect((await files.days()).map((d) => d.date)).toEqual([day]);
    const now = Date.parse(`${day}T00:00:00.000Z`);
    expect(await files.prune(30, now + 30 * DAY)).toEqual([]);
    expect(await files.prune(30, now + 31 * DAY)).toEqual([day]);
    expect(fs.existsSync(files.file(day))).toBe(false);
    expect(await files.days()).toEqual([]);
  });
});

test("Redis's buffer: entries open at the end are closed by their step's time; whole ones and an earlier build's are read too", async () => {
  const store = await makeStore('redis', 'lake-shapes');
  const raw = createClient({ url: testRedisUrl() });
  await raw.connect();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lake-'));
  try {
    const at = Date.now(); // (a day within the retention: the drainer trims older days unwritten)
    const day = utcDay(at);
    const open = (id: string) =>
      lakeEntryUnfinished(id, 'task', 'default', 'SUCCESS', '2', '', 1, '', 'w', at - 9, at - 5);
    const whole = (id: string) => lakeEntry(id, 'sim', 'lake', 'FAILURE', '', 'boom', 3, 'u', 'bot', at - 9, null, at);
    const [buffer] = await store.lake.buffers();
    // what lib-lake.lua's flushLake writes, and one record a field as the build before it did
    await raw.sendCommand(['XADD', buffer, '*', 'day', day, 'at', String(at), 'o', `${open('a')}\n${open('b')}`]);
    await raw.sendCommand(['XADD', buffer, '*', 'day', day, 'n', `${whole('c')}\n${whole('d')}`]);
    await raw.sendCommand([
      'XADD',
      buffer,
      '*',
      'day',
      day,
      'r',
      lakeEntry('e', 'task', 'default', 'SUCCESS', '1', '', 1, '', 'w', at - 9, at - 5, at),
    ]);
    const entries = (await store.lake.pending(buffer, '', 10)).flatMap((b) => b.entries);
    expect(entries.map((e) => JSON.parse(e) as unknown[])).toEqual([
      JSON.parse(lakeEntry('a', 'task', 'default', 'SUCCESS', '2', '', 1, '', 'w', at - 9, at - 5, at)),
      JSON.parse(lakeEntry('b', 'task', 'default', 'SUCCESS', '2', '', 1, '', 'w', at - 9, at - 5, at)),
      JSON.parse(whole('c')),
      JSON.parse(whole('d')),
      JSON.parse(lakeEntry('e', 'task', 'default', 'SUCCESS', '1', '', 1, '', 'w', at - 9, at - 5, at)),
    ]);
    // and the drainer writes all five to the day's file, each once
    const files = lakeFiles(store, dir);
    expect((await drainLake(store, files)).records).toBe(5);
    const lines = fs.readFileSync(files.file(day), 'utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as { job_id: string }).job_id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  } finally {
    await raw.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

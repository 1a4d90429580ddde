/**
 * The datalake's HTTP side on the embedded store: the export serves a day's records once while part
 * of them is in the day file and part still in the buffer; /health and /metrics show the buffer,
 * and /health says degraded (records kept) once it passes its bound.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULTS } from '../../src/core/defaults';
import { startApi, RunningApi } from '../../src/roles/api';
import { drainLake, lakeFiles } from '../../src/roles/datalake/drain';
import { MemoryStore } from '../../src/store/memory';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';

let store: MemoryStore;
let api: RunningApi;
let dir: string;

beforeEach(async () => {
  store = new MemoryStore();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lake-api-'));
  api = await startApi(store, { nodeId: 'lake-api', port: 0, log: silentLogger, datalakeDir: dir });
});
afterEach(async () => {
  await api.close(true);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const finish = async (n: number): Promise<string[]> => {
  await store.jobs.enqueue(Array.from({ length: n }, (_, i) => ({ type: 'task' as const, params: { a: i, b: 1 } })));
  const ids: string[] = [];
  for (const { job, token } of (await store.jobs.claim('default', { consumer: 'w', max: n, leaseMs: 10_000 })).jobs) {
    await store.jobs.complete(job.id, token, 1);
    ids.push(job.id);
  }
  return ids;
};

test('the export serves the day file and the undrained buffer, each record once', async () => {
  const drained = await finish(5);
  await drainLake(store, lakeFiles(store, dir));
  const waiting = await finish(3);
  const [day] = (await store.lake.days()).map((d) => d.date);
  const res = await fetch(`${api.url}/datalake/export/${day}`);
  expect(res.status).toBe(200);
  const ids = (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { job_id: string }).job_id);
  expect(ids).toEqual([...drained, ...waiting]);
  const stats = await http<{ total: number }>('GET', `${api.url}/datalake/stats`);
  expect(stats.body.total).toBe(8);
});

test('/health and /metrics show the buffer; past its bound /health is degraded, saying why', async () => {
  await finish(2);
  type Health = { status: string; datalake: { buffer_entries: number; bound: number; note?: string } };
  const ok = await http<Health>('GET', `${api.url}/health`);
  expect(ok.body.status).toBe('healthy');
  expect(ok.body.datalake).toEqual({ buffer_entries: 2, bound: DEFAULTS.datalakeBufferAlarm });
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  expect(metrics).toMatch(/^wizard_datalake_buffer_entries 2$/m);
  // no drainer for a long while: the buffer's count as the store would answer it
  store.lake.backlog = async () => DEFAULTS.datalakeBufferAlarm + 1;
  const behind = await http<Health>('GET', `${api.url}/health`);
  expect(behind.status).toBe(200);
  expect(behind.body.status).toBe('degraded');
  expect(behind.body.datalake.note).toMatch(/past its bound.*scheduler/);
});

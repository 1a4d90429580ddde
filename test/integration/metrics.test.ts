/**
 * GET /metrics is Prometheus text that parses: HTTP requests by route and status with latency
 * histograms, jobs by state, queue depth, the DLQ, bots and their heartbeats, abacus counters,
 * and job durations (bots' jobs on the API, workers' on the worker's own /metrics).
 */
import { startApi, RunningApi } from '../../src/roles/api';
import { startWorker, RunningWorker } from '../../src/roles/worker';
import type { Store } from '../../src/store/types';
import type { Logger } from '../../src/util/log';
import { silentLogger } from '../helpers/log';
import { makeStore } from '../helpers/stores';
import { http, waitUntil } from '../helpers/procs';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** the text exposition format: # HELP / # TYPE lines, then `name{label="v",...} value` */
function parseProm(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  for (const s of samples) {
    const family = s.name.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(s.name) && !types.has(family)) throw new Error(`sample ${s.name} has no # TYPE`);
  }
  return { types, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

let store: Store;
let api: RunningApi;
let worker: RunningWorker;
let workerMetricsUrl = '';
const admin = { authorization: 'Bearer metrics-admin' };

beforeAll(async () => {
  store = await makeStore('redis', 'metrics');
  api = await startApi(store, { nodeId: 'api-m', port: 0, log: silentLogger, adminToken: 'metrics-admin' });
  const log: Logger = {
    ...silentLogger,
    info: (msg, f) => void (msg === 'metrics listening' && (workerMetricsUrl = String(f?.url))),
    child: () => log,
  };
  worker = startWorker(store, { nodeId: 'worker-m', threads: 1, concurrency: 2, metricsPort: 0, log });
});

afterAll(async () => {
  await worker.close(true);
  await api.close(true);
  await store.close();
});

test('the API and the worker answer Prometheus text with every metric the issue names', async () => {
  const u = api.url;
  // a task through the worker, an abacus add, a 400 and a 404
  const task = await http<{ task_id: string }>('POST', `${u}/task`, { a: 2, b: 3 });
  await waitUntil(
    async () =>
      (await http<{ status: string }>('GET', `${u}/tasks/${task.body.task_id}/status`)).body.status === 'SUCCESS',
    10_000,
    'the task',
  );
  await http('POST', `${u}/abacus/number`, { number: 5 });
  expect((await http('GET', `${u}/add?a=x&b=1`)).status).toBe(400);
  expect((await http('GET', `${u}/jobs/nope`)).status).toBe(404);
  // a bot: register, heartbeat, and one job from claim to complete
  const reg = await http<{ token: string }>('POST', `${u}/bots/register`, { name: 'prom-bot' });
  const bot = { authorization: `Bearer ${reg.body.token}` };
  await http('POST', `${u}/bots/heartbeat`, undefined, bot);
  await http('POST', `${u}/jobs/populate`, { count: 2, type: 'task', params: { a: 1, b: 1 } }, admin);
  const claimed = await http<{ job: { job_id: string } }>('POST', `${u}/jobs/claim`, undefined, bot);
  await http('POST', `${u}/jobs/${claimed.body.job.job_id}/start`, undefined, bot);
  await http('POST', `${u}/jobs/${claimed.body.job.job_id}/complete`, { result: 2 }, bot);

  const res = await fetch(`${u}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const { types, samples } = parseProm(await res.text());

  expect(types.get('wizard_http_request_duration_seconds')).toBe('histogram');
  expect(
    find(samples, 'wizard_http_request_duration_seconds_count', { method: 'POST', route: '/task', status: '202' })[0]
      .value,
  ).toBe(1);
  expect(find(samples, 'wizard_http_request_duration_seconds_count', { route: '/add', status: '400' })[0].value).toBe(
    1,
  );
  expect(
    find(samples, 'wizard_http_request_duration_seconds_count', { route: '/jobs/:id', status: '404' })[0].value,
  ).toBe(1);
  expect(find(samples, 'wizard_http_request_duration_seconds_bucket', { route: '/task', le: '+Inf' })[0].value).toBe(1);

  expect(find(samples, 'wizard_jobs', { state: 'SUCCESS' })[0].value).toBeGreaterThanOrEqual(2);
  expect(find(samples, 'wizard_jobs', { state: 'PENDING' })[0].value).toBe(1);
  expect(find(samples, 'wizard_queue_jobs', { queue: 'bots', status: 'waiting' })[0].value).toBe(1);
  expect(find(samples, 'wizard_dlq_jobs')[0].value).toBe(0);
  expect(find(samples, 'wizard_bots', { status: 'up' })[0].value).toBe(1);
  expect(find(samples, 'wizard_bot_heartbeat_age_seconds', { name: 'prom-bot' })[0].value).toBeLessThan(30);
  expect(find(samples, 'wizard_bot_heartbeats_total')[0].value).toBe(1);
  expect(find(samples, 'wizard_workers_live')[0].value).toBe(1);
  expect(find(samples, 'wizard_store_up')[0].value).toBe(1);
  expect(find(samples, 'wizard_abacus_adds_total')[0].value).toBe(1);
  expect(types.get('wizard_abacus_conflicts_total')).toBe('counter');
  expect(find(samples, 'wizard_job_duration_seconds_count', { type: 'task', outcome: 'SUCCESS' })[0].value).toBe(1); // the bot's job
  expect(types.get('wizard_job_retries_total')).toBe('counter');
  expect(find(samples, 'process_cpu_seconds_total').length).toBe(1);

  // the worker's own /metrics: the task it ran
  expect(workerMetricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const w = parseProm(await (await fetch(workerMetricsUrl)).text());
  expect(find(w.samples, 'wizard_job_duration_seconds_count', { type: 'task', outcome: 'SUCCESS' })[0].value).toBe(1);
  expect((await fetch(workerMetricsUrl.replace('/metrics', '/other'))).status).toBe(404);
});

test('GET /metrics/summary (seed 004) is still the JSON summary', async () => {
  const r = await http<{ jobs: { by_state: Record<string, number> } }>('GET', `${api.url}/metrics/summary`);
  expect(r.status).toBe(200);
  expect(r.body.jobs.by_state).toHaveProperty('SUCCESS');
});

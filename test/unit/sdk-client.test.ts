/**
 * The client's behaviour at the edges, against a stand-in API on loopback that answers what each
 * test scripts: typed errors, which calls are retried on a 503 (reads, cancels, an add with an
 * idempotency key) and which are not (an add without one), Retry-After honoured, and events()
 * resuming a stream that broke off (Last-Event-ID sent, nothing yielded twice).
 * The real API is met in test/e2e/package.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, JobFailed, NotFound, Unavailable, ValidationError, WaitTimeout } from '../../src/index';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
let handler: Handler = (_req, res) => res.end();
const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    handler(req, res, body);
  });
});
let url = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => (seen.length = 0));

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const unavailable = (res: http.ServerResponse) =>
  json(res, 503, { error: { code: 'store_unavailable', message: 'the store is away' } }, { 'retry-after': '0' });
const job = (state: string, result: unknown = null) => ({ job_id: 'j1', state, status: state, result, error: null });

const client = () => new Client({ url, maxTries: 3, retryDelayMs: 5 });

test('a 400 is a ValidationError naming its field; a 404 is NotFound', async () => {
  handler = (req, res) =>
    req.method === 'POST'
      ? json(res, 400, {
          error: {
            code: 'validation_failed',
            message: 'params.a: must be a number',
            details: [{ field: 'params.a', message: 'must be a number' }],
          },
        })
      : json(res, 404, { error: { code: 'not_found', message: 'job j1 not found' } });
  const bad = await client()
    .add('task', { a: 1, b: 2 })
    .catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(ValidationError);
  expect((bad as ValidationError).field).toBe('params.a');
  await expect(client().get('j1')).rejects.toBeInstanceOf(NotFound);
});

test('a read is retried through a 503, with backoff; past its tries it is Unavailable', async () => {
  let calls = 0;
  handler = (_req, res) => (++calls < 3 ? unavailable(res) : json(res, 200, job('PENDING')));
  expect((await client().get('j1')).state).toBe('PENDING');
  expect(calls).toBe(3);

  handler = (_req, res) => unavailable(res);
  const err = await client()
    .get('j1')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Unavailable);
  expect((err as Unavailable).retryAfterMs).toBe(0);
  expect(seen.filter((s) => s.method === 'GET')).toHaveLength(3 + 3);
});

test('an add is retried through a 503 only with an idempotency key, which it sends', async () => {
  handler = (_req, res) => unavailable(res);
  await expect(client().add('task', { a: 1, b: 2 })).rejects.toBeInstanceOf(Unavailable);
  expect(seen).toHaveLength(1);

  seen.length = 0;
  let calls = 0;
  handler = (_req, res) => (++calls < 2 ? unavailable(res) : json(res, 202, { job_id: 'j1', status: 'PENDING' }));
  const made = await client().add('task', { a: 1, b: 2 }, { idempotency_key: 'k1', priority: 2, group: 'g' });
  expect(made.job_id).toBe('j1');
  expect(seen).toHaveLength(2);
  expect(JSON.parse(seen[1].body)).toEqual({
    type: 'task',
    params: { a: 1, b: 2 },
    idempotency_key: 'k1',
    priority: 2,
    group: 'g',
  });
});

test('an add sends its dedupe window as given, and is not retried through a 503 for it', async () => {
  handler = (_req, res) => unavailable(res);
  const dedupe = { key: 'k', ttl_ms: 1000, mode: 'throttle' as const };
  await expect(client().add('task', { a: 1, b: 2 }, { dedupe })).rejects.toBeInstanceOf(Unavailable);
  expect(seen).toHaveLength(1);
  expect(JSON.parse(seen[0].body)).toEqual({ type: 'task', params: { a: 1, b: 2 }, dedupe });
});

test('no answer at all is Unavailable with status 0', async () => {
  const away = new Client({ url: 'http://127.0.0.1:9', maxTries: 1 });
  const err = await away.get('j1').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Unavailable);
  expect((err as Unavailable).status).toBe(0);
});

test('events() resumes a stream that broke off, sending Last-Event-ID and yielding nothing twice', async () => {
  let streams = 0;
  handler = (_req, res) => {
    streams++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (id: string, state: string, completed: number) =>
      res.write(
        `id: ${id}\nevent: state\ndata: ${JSON.stringify({ job_id: 'j1', state, progress: { completed, total: 2 }, result: state === 'SUCCESS' ? 7 : null, error: null })}\n\n`,
      );
    if (streams === 1) {
      send('1-0', 'STARTED', 0);
      send('2-0', 'PROGRESS', 1);
      setTimeout(() => res.destroy(), 20); // the connection drops mid-stream
    } else {
      send('2-0', 'PROGRESS', 1); // each stream starts with the job as it is now
      send('3-0', 'SUCCESS', 2);
      res.end();
    }
  };
  const states: string[] = [];
  for await (const ev of client().events('j1')) states.push(`${ev.state} ${ev.progress.completed}`);
  expect(states).toEqual(['STARTED 0', 'PROGRESS 1', 'SUCCESS 2']);
  expect(streams).toBe(2);
  expect(seen[1].headers['last-event-id']).toBe('2-0');
});

test('waitUntilFinished: the result, JobFailed on a failure, WaitTimeout past its time', async () => {
  const stream = (state: string, error: string | null, result: unknown) => (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: state\ndata: ${JSON.stringify({ job_id: 'j1', state, progress: null, result, error })}\n\n`);
  };
  const answer = (state: string, error: string | null, result: unknown): Handler => {
    const events = stream(state, error, result);
    return (req, res) =>
      req.url!.endsWith('/events') ? events(res) : json(res, 200, { ...job(state, result), error });
  };
  handler = answer('SUCCESS', null, { area: 6 });
  expect(await client().waitUntilFinished('j1')).toEqual({ area: 6 });

  handler = answer('DEAD', 'boom', null);
  const failed = await client()
    .waitUntilFinished('j1')
    .catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(JobFailed);
  expect((failed as JobFailed).state).toBe('DEAD');
  expect((failed as JobFailed).message).toMatch(/boom/);

  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: state\ndata: ${JSON.stringify({ job_id: 'j1', state: 'PENDING', progress: null })}\n\n`);
    // and nothing more: the job never finishes
  };
  await expect(client().waitUntilFinished('j1', { timeoutMs: 200 })).rejects.toBeInstanceOf(WaitTimeout);
});

test('addBulk is one POST /jobs/bulk; with an idempotency key it sends the header and is retried through a 503', async () => {
  let calls = 0;
  handler = (_req, res) =>
    ++calls < 2 ? unavailable(res) : json(res, 202, { jobs: [{ job_id: 'j1', state: 'PENDING', existing: false }] });
  const made = await client().addBulk([{ type: 'task', params: { a: 1, b: 2 }, opts: { priority: 1 } }], {
    idempotency_key: 'bulk-1',
  });
  expect(made).toEqual([{ job_id: 'j1', state: 'PENDING', existing: false }]);
  expect(seen.map((s) => [s.method, s.url, s.headers['idempotency-key']])).toEqual([
    ['POST', '/jobs/bulk', 'bulk-1'],
    ['POST', '/jobs/bulk', 'bulk-1'],
  ]);
  expect(JSON.parse(seen[0].body)).toEqual({ jobs: [{ type: 'task', params: { a: 1, b: 2 }, priority: 1 }] });
  seen.length = 0;
  handler = (_req, res) => unavailable(res);
  await expect(client().addBulk([{ type: 'task', params: { a: 1, b: 2 } }])).rejects.toBeInstanceOf(Unavailable);
  expect(seen).toHaveLength(1); // no key: not retried
});

describe('flows', () => {
  const diamond = {
    name: 'd',
    nodes: [
      { id: 'a', type: 'task', params: { a: 1, b: 2 } },
      { id: 'b', type: 'task', params: { a: 3, b: 4 }, deps: ['a'], on_dep_failure: 'skip' as const },
    ],
  };
  const view = (state: string) => ({
    flow_id: 'f1',
    name: 'd',
    state,
    progress: { completed: state === 'RUNNING' ? 1 : 2, total: 2 },
    created_at: '2026-12-07T00:00:00.000Z',
    finished_at: null,
    nodes: { a: { job_id: 'j1', state: 'SUCCESS', deps: [], result: 3 }, b: { job_id: 'j2', state, deps: ['a'] } },
  });

  test('addFlow is one POST /flows with the body as given; with an idempotency key it sends the header and is retried through a 503, without one it is not', async () => {
    let calls = 0;
    handler = (_req, res) =>
      ++calls < 2 ? unavailable(res) : json(res, 202, { flow_id: 'f1', jobs: { a: 'j1', b: 'j2' }, existing: false });
    expect(await client().addFlow(diamond, { idempotency_key: 'flow-1' })).toEqual({
      flow_id: 'f1',
      jobs: { a: 'j1', b: 'j2' },
      existing: false,
    });
    expect(seen.map((s) => [s.method, s.url, s.headers['idempotency-key']])).toEqual([
      ['POST', '/flows', 'flow-1'],
      ['POST', '/flows', 'flow-1'],
    ]);
    expect(JSON.parse(seen[0].body)).toEqual(diamond);
    seen.length = 0;
    handler = (_req, res) => unavailable(res);
    await expect(client().addFlow(diamond)).rejects.toBeInstanceOf(Unavailable);
    expect(seen).toHaveLength(1);
  });

  test("addFlow's 400 is a ValidationError naming the node's field; getFlow's 404 is NotFound, a 503 retried", async () => {
    handler = (req, res) =>
      req.method === 'POST'
        ? json(res, 400, {
            error: {
              code: 'validation_failed',
              message: 'nodes[1]: params.a must be a number',
              details: [{ field: 'nodes[1].params.a', message: 'must be a number' }],
            },
          })
        : json(res, 404, { error: { code: 'not_found', message: 'flow f9 not found' } });
    const bad = await client()
      .addFlow(diamond)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).field).toBe('nodes[1].params.a');
    await expect(client().getFlow('f9')).rejects.toBeInstanceOf(NotFound);

    let calls = 0;
    handler = (_req, res) => (++calls < 3 ? unavailable(res) : json(res, 200, view('SUCCESS')));
    expect((await client().getFlow('f1')).nodes.b).toEqual({ job_id: 'j2', state: 'SUCCESS', deps: ['a'] });
    expect(seen.slice(-1).map((s) => [s.method, s.url])).toEqual([['GET', '/flows/f1']]);
  });

  test('waitUntilFlowFinished: the flow once it ended (a stream broken off is opened again), WaitTimeout past its time', async () => {
    let streams = 0;
    handler = (_req, res) => {
      streams++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: flow\ndata: ${JSON.stringify(view('RUNNING'))}\n\n`);
      if (streams === 1) setTimeout(() => res.destroy(), 20);
      else res.end(`event: flow\ndata: ${JSON.stringify(view('FAILURE'))}\n\n`);
    };
    const ended = await client().waitUntilFlowFinished('f1');
    expect([ended.state, ended.progress, streams]).toEqual(['FAILURE', { completed: 2, total: 2 }, 2]);
    expect(seen.map((s) => s.url)).toEqual(['/flows/f1/events', '/flows/f1/events']);

    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: flow\ndata: ${JSON.stringify(view('RUNNING'))}\n\n`);
    };
    const late = await client()
      .waitUntilFlowFinished('f1', { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(WaitTimeout);
    expect((late as WaitTimeout).message).toBe('flow f1 did not finish within 200 ms');
  });
});

describe('trace context', () => {
  const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  beforeEach(() => (handler = (_req, res) => json(res, 202, job('PENDING'))));

  test("an add carries the client's trace option (a value or a function), an invalid one nothing", async () => {
    await new Client({ url, trace: { traceparent: TP, tracestate: 'v=1' } }).add('task', { a: 1, b: 2 });
    await new Client({ url, trace: () => ({ traceparent: TP }) }).add('task', { a: 1, b: 2 });
    await new Client({ url, trace: { traceparent: 'nonsense' } }).add('task', { a: 1, b: 2 });
    await client().get('j1');
    expect(seen.map((s) => [s.headers.traceparent, s.headers.tracestate])).toEqual([
      [TP, 'v=1'],
      [TP, undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  test("without the option, an add carries the active OpenTelemetry span's context", async () => {
    const api = await import('@opentelemetry/api');
    let current = api.ROOT_CONTEXT;
    // the least context manager: what an OpenTelemetry SDK registers, for this test's synchronous with()
    api.context.setGlobalContextManager({
      active: () => current,
      with(ctx, fn, thisArg, ...args) {
        const before = current;
        current = ctx;
        try {
          return fn.call(thisArg, ...args);
        } finally {
          current = before;
        }
      },
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    });
    try {
      const span = api.trace.setSpanContext(api.ROOT_CONTEXT, {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: 1,
      });
      await api.context.with(span, () => client().add('task', { a: 1, b: 2 }));
      await client().add('task', { a: 1, b: 2 }); // no span active
      expect(seen.map((s) => s.headers.traceparent)).toEqual([TP, undefined]);
    } finally {
      api.context.disable();
    }
  });
});

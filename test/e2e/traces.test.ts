/**
 * Traces across every hop: a W3C traceparent given to a real `wizard api` is continued by the
 * enqueue's PRODUCER span, a real `wizard worker`'s and a real `wizard bot --exec`'s CONSUMER span
 * of each attempt, and the bot's command (TRACEPARENT in its environment), all exported over
 * OTLP/HTTP to a receiver this test runs: the API and the worker with http/json, the bot with
 * http/protobuf (decoded here by the few protobuf rules OTLP's trace messages need).
 */
import http from 'node:http';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http as request, killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 4 PRODUCER, 5 CONSUMER */
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message: string };
  /** the spans it links to (a flow node's: its deps' attempts) as traceId-spanId */
  links: string[];
}

const PRODUCER = 4;
const CONSUMER = 5;

/** a protobuf message's fields: number → values (a length-delimited one as bytes, a varint as a number) */
function fields(buf: Buffer): Map<number, (Buffer | number)[]> {
  const out = new Map<number, (Buffer | number)[]>();
  let at = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[at++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (at < buf.length) {
    const tag = varint();
    const [no, wire] = [Math.floor(tag / 8), tag % 8];
    let value: Buffer | number;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(at, at + len);
      at += len;
    } else if (wire === 1) {
      value = buf.subarray(at, at + 8);
      at += 8;
    } else if (wire === 5) {
      value = buf.subarray(at, at + 4);
      at += 4;
    } else throw new Error(`wire type ${wire}`);
    out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}
const one = (f: Map<number, (Buffer | number)[]>, no: number) => f.get(no)?.[0];
const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : '');
const hex = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : '');

/** KeyValue (1 key, 2 AnyValue: 1 string, 2 bool, 3 int) */
function protoAttributes(list: (Buffer | number)[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const f = fields(kv as Buffer);
    const any = fields((one(f, 2) as Buffer | undefined) ?? Buffer.alloc(0));
    out[text(one(f, 1))] = any.has(1) ? text(one(any, 1)) : (one(any, 3) ?? one(any, 2));
  }
  return out;
}

/** ExportTraceServiceRequest: 1 ResourceSpans (1 Resource: 1 attributes; 2 ScopeSpans: 2 Span) */
function protobufSpans(body: Buffer): Span[] {
  const spans: Span[] = [];
  for (const rs of fields(body).get(1) ?? []) {
    const r = fields(rs as Buffer);
    const resource = protoAttributes(fields((one(r, 1) as Buffer | undefined) ?? Buffer.alloc(0)).get(1));
    for (const ss of r.get(2) ?? []) {
      for (const s of fields(ss as Buffer).get(2) ?? []) {
        const f = fields(s as Buffer);
        const status = fields((one(f, 15) as Buffer | undefined) ?? Buffer.alloc(0));
        spans.push({
          service: String(resource['service.name']),
          traceId: hex(one(f, 1)),
          spanId: hex(one(f, 2)),
          parentSpanId: hex(one(f, 4)),
          name: text(one(f, 5)),
          kind: Number(one(f, 6) ?? 0),
          attributes: protoAttributes(f.get(9)),
          status: { code: Number(one(status, 3) ?? 0), message: text(one(status, 2)) },
          // Span.Link: 1 trace_id, 2 span_id
          links: (f.get(13) ?? []).map((l) => {
            const lf = fields(l as Buffer);
            return `${hex(one(lf, 1))}-${hex(one(lf, 2))}`;
          }),
        });
      }
    }
  }
  return spans;
}

interface JsonValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface JsonKv {
  key: string;
  value: JsonValue;
}
const jsonAttributes = (list: JsonKv[] = []) =>
  Object.fromEntries(
    list.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? kv.value.boolValue]),
  ) as Record<string, unknown>;

function jsonSpans(body: Buffer): Span[] {
  const doc = JSON.parse(body.toString('utf8')) as {
    resourceSpans: {
      resource: { attributes: JsonKv[] };
      scopeSpans: {
        spans: (Omit<Span, 'attributes' | 'service' | 'status' | 'links'> & {
          attributes: JsonKv[];
          status?: { code?: number; message?: string };
          links?: { traceId: string; spanId: string }[];
        })[];
      }[];
    }[];
  };
  return doc.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({
        service: String(jsonAttributes(rs.resource.attributes)['service.name']),
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        attributes: jsonAttributes(s.attributes as unknown as JsonKv[]),
        status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
        links: (s.links ?? []).map((l) => `${l.traceId}-${l.spanId}`),
      })),
    ),
  );
}

/** an OTLP/HTTP receiver: POST /v1/traces in http/json or http/protobuf */
async function receiver() {
  const spans: Span[] = [];
  const types = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      types.add(type);
      const body = Buffer.concat(chunks);
      spans.push(...(type.includes('json') ? jsonSpans(body) : protobufSpans(body)));
      res.writeHead(200, { 'content-type': type }).end(type.includes('json') ? '{}' : '');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, spans, types, close: () => new Promise((r) => server.close(r)) };
}

test('one trace across the API, a worker, a bot and its command, each attempt a span', async () => {
  const otlp = await receiver();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('traces'),
    WIZARD_API_URL: api,
    HEARTBEAT_INTERVAL_MS: '200',
    WIZARD_BOT_POLL_MS: '100',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api-traces');
  const worker = spawnWizard(['worker'], env, 'worker-traces');
  // the command fails its first attempt, then prints the TRACEPARENT it was given
  const command =
    'if [ "$WIZARD_JOB_ATTEMPT" = 1 ]; then echo first try fails >&2; exit 1; fi; printf \'{"traceparent":"%s"}\' "$TRACEPARENT"';
  const bot = spawnWizard(['bot', '--name', 'tracer', '--exec', command], {
    ...env,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  });
  try {
    await apiProc.waitForOutput(/api listening/);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const given = { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=opaque' };
    const task = await request<{ job_id: string }>(
      'POST',
      `${api}/jobs`,
      { type: 'task', params: { a: 2, b: 3 }, group: 'acme' },
      given,
    );
    expect(task.status).toBe(202);
    const sim = await request<{ job_id: string }>(
      'POST',
      `${api}/jobs`,
      { type: 'sim', params: { duration_ms: 1, failure_rate: 0 } },
      given,
    );
    expect(sim.status).toBe(202);
    const done = (id: string) =>
      waitUntil(
        async () => {
          const j = (await request<{ state: string; result: unknown }>('GET', `${api}/jobs/${id}`)).body;
          return j.state === 'SUCCESS' ? j : null;
        },
        30_000,
        `job ${id} done`,
      );
    await done(task.body.job_id);
    const simDone = await done(sim.body.job_id);

    const spanOf = (name: string, jobId: string, kind: number) =>
      otlp.spans.filter((s) => s.name === name && s.kind === kind && s.attributes['wizard.job.id'] === jobId);
    await waitUntil(
      async () =>
        spanOf('run task', task.body.job_id, CONSUMER).length === 1 &&
        spanOf('run sim', sim.body.job_id, CONSUMER).length === 2,
      20_000,
      'the attempts’ spans',
    );
    const [taskEnqueue] = spanOf('enqueue task', task.body.job_id, PRODUCER);
    const [simEnqueue] = spanOf('enqueue sim', sim.body.job_id, PRODUCER);
    const [taskRun] = spanOf('run task', task.body.job_id, CONSUMER);
    const simRuns = spanOf('run sim', sim.body.job_id, CONSUMER).sort(
      (a, b) => Number(a.attributes['wizard.job.attempt']) - Number(b.attributes['wizard.job.attempt']),
    );
    // one trace: the given one; the enqueue is the caller's child, each attempt the enqueue's
    for (const s of [taskEnqueue, simEnqueue, taskRun, ...simRuns]) expect(s.traceId).toBe(traceId);
    expect(taskEnqueue.parentSpanId).toBe('00f067aa0ba902b7');
    expect(taskEnqueue).toMatchObject({ service: 'wizard-api' });
    expect(taskRun).toMatchObject({ service: 'wizard-worker', parentSpanId: taskEnqueue.spanId });
    expect(taskRun.attributes).toMatchObject({
      'wizard.job.type': 'task',
      'wizard.job.queue': 'default',
      'wizard.job.group': 'acme',
      'wizard.job.attempt': 1,
      'wizard.job.state': 'SUCCESS',
    });
    expect(simRuns.map((s) => s.service)).toEqual(['wizard-bot', 'wizard-bot']);
    expect(simRuns.map((s) => s.parentSpanId)).toEqual([simEnqueue.spanId, simEnqueue.spanId]);
    expect(simRuns[0].attributes).toMatchObject({ 'wizard.job.attempt': 1, 'wizard.job.error': 'first try fails' });
    expect(simRuns[0].status).toEqual({ code: 2, message: 'first try fails' });
    expect(simRuns[1].attributes).toMatchObject({ 'wizard.job.attempt': 2, 'wizard.job.state': 'SUCCESS' });
    // the command got the bot's span of its attempt as TRACEPARENT
    expect(simDone.result).toEqual({ traceparent: `00-${traceId}-${simRuns[1].spanId}-01` });
    expect([...otlp.types].sort()).toEqual(['application/json', 'application/x-protobuf']);
  } finally {
    await bot.kill('SIGTERM');
    await worker.kill('SIGTERM');
    await apiProc.kill('SIGTERM');
    await otlp.close();
  }
}, 90_000);

test("a flow's nodes: one trace from the request, each node's attempt span linked to its deps' attempts' spans", async () => {
  const otlp = await receiver();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('traces-flow'),
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api-traces-flow');
  // the worker exports protobuf: links decoded from both encodings
  const worker = spawnWizard(['worker', '--concurrency', '4'], {
    ...env,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  });
  try {
    await apiProc.waitForOutput(/api listening/);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const task = (a: number) => ({ type: 'task', params: { a, b: 1 } });
    const made = await request<{ flow_id: string; jobs: Record<string, string> }>(
      'POST',
      `${api}/flows`,
      {
        name: 'traced',
        nodes: [
          { id: 'a', ...task(1) },
          { id: 'b', ...task(2), deps: ['a'] },
          { id: 'c', ...task(3), deps: ['a'] },
          { id: 'd', ...task(4), deps: ['b', 'c'] },
        ],
      },
      { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    );
    expect(made.status).toBe(202);
    const { flow_id, jobs } = made.body;
    await waitUntil(
      async () => (await request<{ state: string }>('GET', `${api}/flows/${flow_id}`)).body.state === 'SUCCESS',
      30_000,
      'the flow to succeed',
    );
    const runOf = (node: string) =>
      otlp.spans.filter(
        (s) => s.name === 'run task' && s.kind === CONSUMER && s.attributes['wizard.job.id'] === jobs[node],
      );
    const enqueues = () => otlp.spans.filter((s) => s.name === 'enqueue flow' && s.kind === PRODUCER);
    await waitUntil(
      async () => ['a', 'b', 'c', 'd'].every((n) => runOf(n).length === 1) && enqueues().length === 1,
      20_000,
      'the nodes’ spans',
    );
    const [enqueue] = enqueues();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => runOf(n)[0]);
    // one trace: the request's; the flow's enqueue its child, every node's attempt the enqueue's
    expect(enqueue).toMatchObject({ traceId, parentSpanId: 'b7ad6b7169203331', service: 'wizard-api' });
    expect(enqueue.attributes).toMatchObject({ 'wizard.flow.id': flow_id, 'wizard.flow.nodes': 4 });
    for (const s of [a, b, c, d])
      expect(s).toMatchObject({ traceId, parentSpanId: enqueue.spanId, service: 'wizard-worker' });
    const id = (s: Span) => `${s.traceId}-${s.spanId}`;
    // each node's span links to its deps' spans, exactly
    expect(a.links).toEqual([]);
    expect(b.links).toEqual([id(a)]);
    expect(c.links).toEqual([id(a)]);
    expect([...d.links].sort()).toEqual([id(b), id(c)].sort());
  } finally {
    await worker.kill('SIGTERM');
    await apiProc.kill('SIGTERM');
    await otlp.close();
  }
}, 90_000);

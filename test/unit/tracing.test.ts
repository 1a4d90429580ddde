/** The W3C trace context as wizard reads, keeps and passes it on (src/util/tracing.ts, bot-exec.ts). */
import { commandEnv } from '../../src/roles/bot-exec';
import { exportConfigured, exportProtocol, readTrace, storedTrace, traceFrom, tracing } from '../../src/util/tracing';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('a valid traceparent is taken (trimmed, lower-cased); an invalid one is ignored', () => {
  expect(traceFrom(` ${TP.toUpperCase()} `)).toEqual({ traceparent: TP });
  expect(traceFrom(TP, 'a=1,b=2')).toEqual({ traceparent: TP, tracestate: 'a=1,b=2' });
  for (const bad of [
    undefined,
    '',
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  ])
    expect(traceFrom(bad, 'a=1')).toBeNull();
});

test('a job keeps the traceparent and the tracestate in one field, read back as given', () => {
  for (const c of [{ traceparent: TP }, { traceparent: TP, tracestate: 'v=a b,w=c' }])
    expect(readTrace(storedTrace(c))).toEqual(c);
  expect(readTrace(undefined)).toBeNull();
  expect(readTrace('')).toBeNull();
});

test('tracing is on only with an OTLP endpoint, and not when the SDK or the trace exporter is off', () => {
  expect(exportConfigured({})).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  expect(exportProtocol({})).toBe('http/protobuf');
  expect(exportProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe('http/json');
  expect(
    exportProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }),
  ).toBe('http/protobuf');
});

test('with no exporter configured, nothing is loaded', () => {
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return;
  expect(tracing()).toBeNull();
  expect(Object.keys(require.cache).filter((k) => k.includes('@opentelemetry/sdk-trace'))).toEqual([]);
});

test("a command's TRACEPARENT is its job's trace context, over the bot's own", () => {
  const job = { job_id: 'j1', type: 'sim', attempts: 1 };
  expect(commandEnv(job, [], { TRACEPARENT: 'the-bots' }).TRACEPARENT).toBe('the-bots');
  const env = commandEnv(job, [], { TRACEPARENT: 'the-bots' }, { traceparent: TP, tracestate: 'a=1' });
  expect(env).toMatchObject({ TRACEPARENT: TP, TRACESTATE: 'a=1' });
});

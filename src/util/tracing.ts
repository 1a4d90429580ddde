/**
 * Traces across a job's hops (docs/tracing.md). A W3C trace context (`traceparent`, `tracestate`)
 * is kept with the job as its `trace` field (storedTrace: the traceparent, then a space and the
 * tracestate when there is one); the API's enqueue is a PRODUCER span and each attempt a
 * CONSUMER span, its child.
 *
 * Spans are recorded and exported only when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then, on first use, the official `@opentelemetry/*`
 * packages are loaded and export over OTLP/HTTP (OTEL_EXPORTER_OTLP_PROTOCOL `http/protobuf`, the
 * default, or `http/json`; the other standard OTEL_* variables as those packages read them).
 * With none set, tracing() is null and nothing is loaded: a given trace context is only passed on.
 */
import type * as Api from '@opentelemetry/api';
import { packageVersion } from './package-root';

export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** version-traceid-parentid-flags, lower-case hex (W3C Trace Context level 1) */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** a valid traceparent as given (trimmed, lower-cased), or null: an invalid one is ignored, as the spec says */
export function parseTraceparent(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  const m = TRACEPARENT.exec(v);
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return null;
  return v;
}

/** the trace context of request headers (or any such pair), or null when there is no valid traceparent */
export function traceFrom(traceparent: unknown, tracestate?: unknown): TraceContext | null {
  const tp = parseTraceparent(traceparent);
  if (!tp) return null;
  const ts = typeof tracestate === 'string' ? tracestate.trim() : '';
  return ts && ts.length <= 512 ? { traceparent: tp, tracestate: ts } : { traceparent: tp };
}

/** a trace context as a job's record keeps it */
export const storedTrace = (c: TraceContext): string =>
  c.tracestate ? `${c.traceparent} ${c.tracestate}` : c.traceparent;

/** a job's kept trace context (its `trace` field), or null */
export function readTrace(stored: string | null | undefined): TraceContext | null {
  if (!stored) return null;
  const at = stored.indexOf(' ');
  return at < 0 ? traceFrom(stored) : traceFrom(stored.slice(0, at), stored.slice(at + 1));
}

/** a span's attributes */
export type Attributes = Record<string, string | number | boolean | undefined | null>;

/** an attempt's span, ended with the attempt */
export interface OpenSpan {
  /** its context, which the next hop continues */
  context: TraceContext;
  /** more attributes (an enqueue's job id, known once it is made) */
  set(attributes: Attributes): void;
  /** ended with the attempt's state (SUCCESS, RETRY, FAILURE, DEAD, …) and, on failure, its error */
  end(state: string, error?: string): void;
}

export interface Tracing {
  /** a span of this kind, child of `parent` (a new trace without one), linked to the spans of `links` (a flow node's deps') */
  start(
    name: string,
    kind: 'producer' | 'consumer',
    parent: TraceContext | null,
    attributes: Attributes,
    links?: TraceContext[],
  ): OpenSpan;
  /** send what is recorded (a role's stop) */
  flush(): Promise<void>;
}

/** whether spans are exported: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none */
export function exportConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return (
    !!endpoint && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true' && env.OTEL_TRACES_EXPORTER?.trim() !== 'none'
  );
}

/** the protocol the exporter speaks: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL, http/protobuf by default */
export function exportProtocol(env: NodeJS.ProcessEnv = process.env): 'http/json' | 'http/protobuf' {
  const p = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || '').trim();
  return p === 'http/json' ? 'http/json' : 'http/protobuf';
}

let service = 'wizard';
let current: Tracing | null | undefined;

/** name this process's role: its spans' service.name is `wizard-<role>` unless OTEL_SERVICE_NAME says otherwise */
export function traceRole(role: string): void {
  service = `wizard-${role}`;
}

/** this process's tracer, or null when no exporter is configured (then nothing is loaded) */
export function tracing(): Tracing | null {
  if (current === undefined) current = exportConfigured() ? openTracing() : null;
  return current;
}

/** send what is recorded, when tracing is on (a role's stop: untilSignal) */
export async function flushTracing(): Promise<void> {
  if (current) await current.flush().catch(() => undefined);
}

/** the W3C traceparent of a span context */
export function formatTraceparent(sc: Pick<Api.SpanContext, 'traceId' | 'spanId' | 'traceFlags'>): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** the attributes that have a value */
function defined(attributes: Attributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only when an exporter is configured */
function openTracing(): Tracing {
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const res = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { OTLPTraceExporter } = (
    exportProtocol() === 'http/json'
      ? require('@opentelemetry/exporter-trace-otlp-http')
      : require('@opentelemetry/exporter-trace-otlp-proto')
  ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const version = packageVersion();
  const resource = res
    .defaultResource()
    .merge(res.resourceFromAttributes({ 'service.name': service, 'service.version': version }))
    .merge(res.detectResources({ detectors: [res.envDetector] }));
  const provider = new sdk.BasicTracerProvider({
    resource,
    spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer('wizard', version);
  /** a kept context as a span context, or null when it is not a valid traceparent */
  const spanContext = (c: TraceContext | null): Api.SpanContext | null => {
    const m = c && TRACEPARENT.exec(c.traceparent);
    if (!m) return null;
    return {
      traceId: m[2],
      spanId: m[3],
      traceFlags: parseInt(m[4], 16),
      isRemote: true,
      ...(c.tracestate ? { traceState: api.createTraceState(c.tracestate) } : {}),
    };
  };
  const parentContext = (parent: TraceContext | null): Api.Context => {
    const sc = spanContext(parent);
    return sc ? api.trace.setSpanContext(api.ROOT_CONTEXT, sc) : api.ROOT_CONTEXT;
  };
  return {
    start(name, kind, parent, attributes, links = []) {
      const span = tracer.startSpan(
        name,
        {
          kind: kind === 'producer' ? api.SpanKind.PRODUCER : api.SpanKind.CONSUMER,
          attributes: defined(attributes),
          links: links.flatMap((l) => {
            const sc = spanContext(l);
            return sc ? [{ context: sc }] : [];
          }),
        },
        parentContext(parent),
      );
      const sc = span.spanContext();
      const tracestate = sc.traceState?.serialize();
      return {
        context: tracestate
          ? { traceparent: formatTraceparent(sc), tracestate }
          : { traceparent: formatTraceparent(sc) },
        set: (more) => void span.setAttributes(defined(more)),
        end(state, error) {
          span.setAttribute('wizard.job.state', state);
          if (error !== undefined) {
            span.setAttribute('wizard.job.error', error);
            span.setStatus({ code: api.SpanStatusCode.ERROR, message: error });
          }
          span.end();
        },
      };
    },
    flush: () => provider.forceFlush().then(() => provider.shutdown()),
  };
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** a job's span attributes (the messaging conventions' and wizard's own) */
export const jobAttributes = (j: {
  id: string;
  type: string;
  queue: string;
  attempt?: number;
  group?: string | null;
}): Attributes => ({
  'messaging.system': 'wizard',
  'messaging.destination.name': j.queue,
  'messaging.message.id': j.id,
  'wizard.job.id': j.id,
  'wizard.job.type': j.type,
  'wizard.job.queue': j.queue,
  'wizard.job.group': j.group,
  'wizard.job.attempt': j.attempt,
});

/**
 * an enqueue's trace: with tracing on, its PRODUCER span (child of the given context, if any),
 * whose context the new job keeps; else the given context as it is (passed on, nothing recorded)
 */
export function enqueueSpan(
  given: TraceContext | null,
  job: { type: string; queue: string; group?: string | null },
): { trace: TraceContext | null; span: OpenSpan | null } {
  const t = tracing();
  if (!t) return { trace: given, span: null };
  const span = t.start(`enqueue ${job.type}`, 'producer', given, {
    ...jobAttributes({ id: '', ...job }),
    'messaging.message.id': undefined,
    'wizard.job.id': undefined,
    'messaging.operation.type': 'send',
  });
  return { trace: span.context, span };
}

/**
 * an attempt's CONSUMER span, child of the trace context its job keeps (a new trace without one);
 * a flow's node's is linked to its deps' attempts' spans (`links`)
 */
export const attemptSpan = (
  t: Tracing,
  job: { id: string; type: string; queue: string; attempts: number; group?: string | null; trace?: string | null },
  links?: TraceContext[],
): OpenSpan =>
  t.start(
    `run ${job.type}`,
    'consumer',
    readTrace(job.trace),
    { ...jobAttributes({ ...job, attempt: job.attempts }), 'messaging.operation.type': 'process' },
    links,
  );

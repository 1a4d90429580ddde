/**
 * The trace context a client's add carries (traceparent and tracestate headers): the client's
 * `trace` option, or else the active OpenTelemetry context's span, when the program has an
 * OpenTelemetry SDK running (@opentelemetry/api is loaded at the first add, not with the client).
 */
import { formatTraceparent, TraceContext, traceFrom } from '../util/tracing';

/** the client's `trace` option: a context, or what gives one at each add */
export type TraceOption = TraceContext | (() => TraceContext | null | undefined);

let otelApi: typeof import('@opentelemetry/api') | null | undefined;

/** the active OpenTelemetry span's context, or null (no SDK running, no span active) */
function activeContext(): TraceContext | null {
  if (otelApi === undefined) {
    try {
      otelApi = require('@opentelemetry/api') as typeof import('@opentelemetry/api'); // eslint-disable-line @typescript-eslint/no-require-imports
    } catch {
      otelApi = null;
    }
  }
  const sc = otelApi?.trace.getSpanContext(otelApi.context.active());
  if (!sc || !otelApi?.isSpanContextValid(sc)) return null;
  return traceFrom(formatTraceparent(sc), sc.traceState?.serialize());
}

/** the trace headers of an add: the option's context (checked: an invalid one sends nothing), else the active span's */
export function traceHeaders(option: TraceOption | undefined): Record<string, string> {
  const given = typeof option === 'function' ? option() : option;
  const c = given ? traceFrom(given.traceparent, given.tracestate) : activeContext();
  if (!c) return {};
  return c.tracestate ? { traceparent: c.traceparent, tracestate: c.tracestate } : { traceparent: c.traceparent };
}

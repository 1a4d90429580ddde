/** In-process metrics of one API node: /health shows the abacus counters, /metrics all of it. */
import { createPromMetrics, PromMetrics } from './prometheus';

export interface ApiMetrics {
  abacus: {
    /** adds applied */
    adds: number;
    /** optimistic attempts that found the sum moved and were retried (or given up) */
    conflicts: number;
    /** optimistic adds that ran out of attempts: answered 409, nothing added */
    retries_exhausted: number;
    /** adds refused because the sum would leave the signed 64-bit range: 422 */
    out_of_range: number;
  };
  /** the Prometheus registry and the metrics routes observe into (prometheus.ts) */
  prom: PromMetrics;
}

export function createApiMetrics(): ApiMetrics {
  const abacus = { adds: 0, conflicts: 0, retries_exhausted: 0, out_of_range: 0 };
  return { abacus, prom: createPromMetrics(abacus) };
}

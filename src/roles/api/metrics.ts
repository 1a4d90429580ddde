/** In-process counters of one API node: /health shows them now, a Prometheus /metrics later. */
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
}

export function createApiMetrics(): ApiMetrics {
  return { abacus: { adds: 0, conflicts: 0, retries_exhausted: 0, out_of_range: 0 } };
}

/**
 * The metrics of one API node, built once at start: plain counters (/health shows the abacus
 * ones) and the Prometheus registry with this node's own series. What serves them, GET /metrics
 * and the request timer, is routes/metrics.ts.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { createJobMetrics, JobMetrics, processRegistry } from '../job-metrics';

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
  /** the Prometheus registry and the series the routes observe into */
  prom: PromMetrics;
}

export function createApiMetrics(): ApiMetrics {
  const abacus = { adds: 0, conflicts: 0, retries_exhausted: 0, out_of_range: 0 };
  return { abacus, prom: createPromMetrics(abacus) };
}

export interface PromMetrics {
  registry: Registry;
  jobs: JobMetrics;
  botHeartbeats: Counter<string>;
  /** connections closed at once because the node had --max-connections open */
  connectionsRefused: Counter<string>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/** a counter that reads its value from a plain number when scraped */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number) {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function createPromMetrics(abacus: ApiMetrics['abacus']): PromMetrics {
  const registry = processRegistry();
  mirroredCounter(registry, 'wizard_abacus_adds_total', 'abacus adds applied by this node', () => abacus.adds);
  mirroredCounter(
    registry,
    'wizard_abacus_conflicts_total',
    'optimistic abacus attempts that found the sum moved',
    () => abacus.conflicts,
  );
  mirroredCounter(
    registry,
    'wizard_abacus_retries_exhausted_total',
    'optimistic adds that ran out of attempts (409)',
    () => abacus.retries_exhausted,
  );
  return {
    registry,
    jobs: createJobMetrics(registry),
    botHeartbeats: new Counter({
      name: 'wizard_bot_heartbeats_total',
      help: 'bot heartbeats received by this node',
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: 'wizard_http_connections_refused_total',
      help: 'connections closed at once because this node had its most open connections (--max-connections)',
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'wizard_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, with their latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
  };
}

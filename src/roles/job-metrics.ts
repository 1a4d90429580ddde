/**
 * Job metrics in Prometheus form, kept by the process that saw the job end: a worker for the
 * jobs it runs (on its own --metrics-port), the API for bots' jobs (when a bot reports). Each
 * process counts only its own, so summing over every scraped process is right, and it costs one
 * in-memory observation per job: nothing is written to Redis for it.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Job } from '../core/job';
import type { FailTarget } from '../store/types';

/** seconds: from a 10 ms task to the bot batch's 5-minute jobs and beyond */
export const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

/**
 * prom-client's defaults that are gauges named like counters: `promtool check metrics` rejects
 * them. `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources` (by type)
 * say the same and stay.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** a registry of this process with Node's default metrics (process_*, nodejs_*), as promtool takes them */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

export interface JobMetrics {
  /** a job this process saw end: its run time, and where it went */
  observe(job: Job, seconds: number, outcome: 'SUCCESS' | FailTarget['to']): void;
}

export function createJobMetrics(registry: Registry): JobMetrics {
  const duration = new Histogram({
    name: 'wizard_job_duration_seconds',
    help: 'run time of each attempt, by job type and where it went (SUCCESS, RETRY, FAILURE, DEAD)',
    labelNames: ['type', 'outcome'],
    buckets: JOB_DURATION_BUCKETS,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'wizard_job_retries_total',
    help: 'failed attempts sent back to be tried again, by job type',
    labelNames: ['type'],
    registers: [registry],
  });
  // one labelled child per type and outcome, looked up once: observe() runs for every job
  const children = new Map<string, ReturnType<typeof duration.labels>>();
  return {
    observe(job, seconds, outcome) {
      const key = `${job.type} ${outcome}`;
      let child = children.get(key);
      if (!child) children.set(key, (child = duration.labels({ type: job.type, outcome })));
      child.observe(Math.max(0, seconds));
      if (outcome === 'RETRY') retries.inc({ type: job.type });
    },
  };
}

/**
 * The defaults of the roles' settings, written once: the commander flags (src/commands), the
 * roles' options (WORKER_DEFAULTS, SCHEDULER_DEFAULTS, BOT_DEFAULTS, the store's options) and the
 * table in docs/configuration.md take them from here (test/unit/defaults.test.ts checks the
 * table against FLAG_DEFAULTS).
 */
export const DEFAULTS = {
  /** --redis: where a role that needs Redis looks when told nothing */
  redisUrl: 'redis://127.0.0.1:6379',
  /** --prefix: every key lives under it */
  prefix: 'wizard',
  /** --port, --host: where the API listens */
  port: 8000,
  host: '127.0.0.1',
  /** --concurrency: a worker's jobs in flight at once */
  concurrency: 32,
  /** --lease-ms: the lease a worker holds jobs under, and what a reaper assumes of a queue none named */
  leaseMs: 30_000,
  /** --metrics-host: where a worker's metrics port listens */
  metricsHost: '127.0.0.1',
  /** --result-ttl-ms: finished jobs expire this long after they finish */
  resultTtlMs: 3_600_000,
  /** --event-retention-ms: events older than this are trimmed from the event log */
  eventRetentionMs: 600_000,
  /** --populate-interval-ms: the scheduler makes a batch this often */
  populateIntervalMs: 600_000,
  /** --bot-down-after-ms: a bot silent this long is down (also the lease of a bot's job) */
  botDownAfterMs: 120_000,
  /** --leader-lease-ms: the scheduler leader's lease */
  leaderLeaseMs: 5_000,
  /** --heartbeat-interval-ms: a bot heartbeats this often */
  heartbeatIntervalMs: 30_000,
  /** --poll-ms: a bot with no job asks again this often */
  botPollMs: 1_000,
  /** --bots: the bots `up` runs */
  upBots: 2,
  /** a flow's outbox entry not delivered this long is delivered by the recovery (docs/flows.md "On a Redis Cluster") */
  flowOutboxGraceMs: 5_000,
  /** --datalake-dir: where the drainer writes the datalake's day files (under a directory per prefix) */
  datalakeDir: './data/datalake',
  /** how often the drainer empties the datalake buffer into the day files */
  datalakeDrainMs: 1_000,
  /** entries in the datalake buffers past which /health says degraded (records are kept) */
  datalakeBufferAlarm: 100_000,
} as const;

/**
 * a handler's rate_limited error (docs/flow-control.md "Rate limits"): how long its group (or
 * queue) waits when it names no retry_after_ms, and the longest it may name (ms)
 */
export const RATE_LIMITED_HOLD_MS = 1_000;
export const MAX_RATE_LIMITED_HOLD_MS = 3_600_000;

/** the exit code of a bot's --exec command that met the limit of what it calls (EX_TEMPFAIL) */
export const EXEC_RATE_LIMITED_EXIT = 75;

/** each flag whose default is here, and that default: docs/configuration.md's table shows these */
export const FLAG_DEFAULTS: Readonly<Record<string, string | number>> = {
  '--redis': DEFAULTS.redisUrl,
  '--prefix': DEFAULTS.prefix,
  '--port': DEFAULTS.port,
  '--host': DEFAULTS.host,
  '--concurrency': DEFAULTS.concurrency,
  '--lease-ms': DEFAULTS.leaseMs,
  '--metrics-host': DEFAULTS.metricsHost,
  '--result-ttl-ms': DEFAULTS.resultTtlMs,
  '--event-retention-ms': DEFAULTS.eventRetentionMs,
  '--populate-interval-ms': DEFAULTS.populateIntervalMs,
  '--bot-down-after-ms': DEFAULTS.botDownAfterMs,
  '--leader-lease-ms': DEFAULTS.leaderLeaseMs,
  '--heartbeat-interval-ms': DEFAULTS.heartbeatIntervalMs,
  '--poll-ms': DEFAULTS.botPollMs,
  '--bots': DEFAULTS.upBots,
  '--datalake-dir': DEFAULTS.datalakeDir,
};

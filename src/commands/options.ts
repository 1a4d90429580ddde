/**
 * The common flags: each declares its environment variable and default, and parses its value
 * with a message that names the flag (exit code 2). Precedence: defaults < environment < flags.
 */
import os from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { ABACUS_STRATEGIES } from '../core/abacus';
import type { SentinelAddress } from '../store/sentinel';
import { DEFAULT_COMMAND_TIMEOUT_MS, DURABILITIES } from '../store/types';

export function parseIntIn(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** a duration: 500ms, 5s, 2m, 1h, 1d (or a number of ms), from min to max ms */
export function parseDuration(flag: string, min: number, max: number) {
  return (value: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']) : NaN;
    if (!Number.isFinite(ms) || ms < min || ms > max) {
      throw new InvalidArgumentError(`${flag} must be a duration from ${min} ms to ${max} ms (500ms, 5s, 2m, 1h, 1d), got '${value}'`);
    }
    return ms;
  };
}

/** an ISO 8601 time */
export function parseIsoTime(flag: string) {
  return (value: string): string => {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(Date.parse(value))) {
      throw new InvalidArgumentError(`${flag} must be an ISO 8601 time with a zone, e.g. 2030-01-01T12:00:00Z, got '${value}'`);
    }
    return value;
  };
}

export function parseNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a finite number, got '${value}'`);
    return n;
  };
}

export function parseUrl(flag: string, protocols: string[]) {
  return (value: string): string => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a URL (${protocols.join(' or ')}), got '${value}'`);
    }
    if (!protocols.includes(u.protocol.replace(':', ''))) {
      throw new InvalidArgumentError(`${flag} must start with ${protocols.map((p) => p + '://').join(' or ')}, got '${value}'`);
    }
    return value;
  };
}

/** a URL, or several separated by commas (a Redis Cluster's seed nodes): each checked as parseUrl does */
export function parseUrlList(flag: string, protocols: string[]) {
  const one = parseUrl(flag, protocols);
  return (value: string): string => {
    value.split(',').forEach((v) => one(v.trim()));
    return value;
  };
}

export const defaultNodeId = (): string => `${os.hostname()}-${process.pid}`;

export const redisOption = (help = 'Redis URL (rediss:// for TLS); a Redis Cluster: any node, or several comma-separated') =>
  new Option('--redis <url>', help).env('REDIS_URL').default('redis://127.0.0.1:6379').argParser(parseUrlList('--redis', ['redis', 'rediss']));

/** for `wizard up`: no default, because no Redis means the in-memory store */
export const optionalRedisOption = () =>
  new Option('--redis <url>', 'Redis URL; without it everything runs in memory')
    .env('REDIS_URL')
    .argParser((v: string) => (v === '' ? undefined : parseUrlList('--redis', ['redis', 'rediss'])(v)));

/** "host:port,host:port" as addresses, or a message naming the flag */
export function parseSentinels(value: string): SentinelAddress[] {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`--redis-sentinel takes host:port[,host:port…], got '${value}'`);
  return parts.map((p) => {
    const m = /^(\[[^\]]+\]|[^:\s\[\]]+):(\d{1,5})$/.exec(p);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new InvalidArgumentError(`--redis-sentinel takes host:port[,host:port…], got '${p}'`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** Sentinel, durability and the store's call deadline: for every role that opens a store (api, worker, scheduler, up) */
export const storeHaOptions = (): Option[] => [
  new Option('--redis-sentinel <list>', "Sentinels (host:port,…) that name the master, with --redis-master; --redis then gives only the scheme and password")
    .env('REDIS_SENTINELS')
    .argParser(parseSentinels),
  new Option('--redis-master <name>', 'the name the Sentinels monitor the master under').env('REDIS_MASTER_NAME').argParser((v: string) => {
    if (!/^[\w.:-]{1,128}$/.test(v)) throw new InvalidArgumentError(`--redis-master must be 1-128 of letters, digits, _ . : -, got '${v}'`);
    return v;
  }),
  new Option('--durability <d>', 'replica: every write a user is told succeeded waits for a replica (WAIT 1); none: as Redis replicates, asynchronously')
    .env('WIZARD_DURABILITY')
    .choices(DURABILITIES)
    .default('none'),
  new Option('--durability-timeout-ms <ms>', 'with --durability replica: a write no replica confirms in this time is a 503 (safe to retry)')
    .env('WIZARD_DURABILITY_TIMEOUT_MS')
    .default(1000)
    .argParser(parseIntIn('--durability-timeout-ms', 1, 60_000)),
  new Option('--store-timeout-ms <ms>', 'a Redis call with no answer in this time fails (a 503 at the API) and its connection is replaced')
    .env('WIZARD_STORE_TIMEOUT_MS')
    .default(DEFAULT_COMMAND_TIMEOUT_MS)
    .argParser(parseIntIn('--store-timeout-ms', 1, 600_000)),
];

export const prefixOption = () =>
  new Option('--prefix <p>', 'key prefix: every key lives under it').env('WIZARD_PREFIX').default('wizard').argParser((v: string) => {
    if (!/^[\w.:-]{1,64}$/.test(v)) throw new InvalidArgumentError(`--prefix must be 1-64 of letters, digits, _ . : -, got '${v}'`);
    return v;
  });

export const shardsOption = () =>
  new Option('--shards <n>', 'shards per queue, set for the whole prefix (default: what it has; new: 2 per Cluster master, 1 on a plain Redis)')
    .env('WIZARD_SHARDS')
    .argParser(parseIntIn('--shards', 1, 1024));

export const portOption = () => new Option('--port <n>', 'HTTP port').env('PORT').default(8000).argParser(parseIntIn('--port', 0, 65535));

export const hostOption = () => new Option('--host <addr>', 'address to listen on').env('WIZARD_HOST').default('127.0.0.1');

export const nodeIdOption = () =>
  new Option('--node-id <id>', 'name of this node (default <hostname>-<pid>)').env('WIZARD_NODE_ID').argParser((v: string) => {
    if (!/^[\w.:@-]{1,128}$/.test(v)) throw new InvalidArgumentError(`--node-id must be 1-128 of letters, digits, _ . : @ -, got '${v}'`);
    return v;
  });

export const apiOption = () =>
  new Option('--api <url>', 'API base URL').env('WIZARD_API_URL').default('http://127.0.0.1:8000').argParser(parseUrl('--api', ['http', 'https']));

export const threadsOption = () =>
  new Option('--threads <n>', 'threads of the CPU pool (default: number of CPUs)').env('WIZARD_THREADS').argParser(parseIntIn('--threads', 1, 256));

export const concurrencyOption = () =>
  new Option('--concurrency <n>', 'jobs in flight at once').env('WIZARD_CONCURRENCY').default(32).argParser(parseIntIn('--concurrency', 1, 10_000));

export const leaseOption = () =>
  new Option('--lease-ms <ms>', 'lease on a claimed job; renewed at a third of it').env('WIZARD_LEASE_MS').default(30_000).argParser(parseIntIn('--lease-ms', 100, 3_600_000));

export const resultTtlOption = () =>
  new Option('--result-ttl-ms <ms>', 'finished jobs expire this long after they finish').env('WIZARD_RESULT_TTL_MS').default(3_600_000).argParser(parseIntIn('--result-ttl-ms', 1000));

export const eventRetentionOption = () =>
  new Option('--event-retention-ms <ms>', 'the event log keeps this much history').env('WIZARD_EVENT_RETENTION_MS').default(600_000).argParser(parseIntIn('--event-retention-ms', 1000));

export const abacusStrategyOption = () =>
  new Option('--abacus-strategy <s>', 'how the abacus adds: one atomic Lua step, or WATCH/MULTI/EXEC with retries')
    .env('ABACUS_STRATEGY')
    .choices(ABACUS_STRATEGIES)
    .default('atomic');

export const adminTokenOption = () =>
  new Option('--admin-token <t>', 'admin routes need this token; unset, they are refused (prefer the env variable: flags show in ps)').env('ADMIN_TOKEN');

export const jsonOption = () => new Option('--json', 'machine-readable output on stdout, nothing else there');

export const wideOption = () => new Option('--wide', 'whole ids in tables (they are shortened, as git shortens commits)');

/**
 * The store group: the flags of every role that opens a store (api, worker, scheduler, up):
 * which Redis (a URL, a Cluster, or Sentinels), its TLS, the key prefix and shards, durability,
 * how long results and events are kept, and the node id the role claims in it. An option that
 * every store-opening role takes goes here; storeFromFlags reads them all.
 */
import os from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors';
import type { RedisTls } from '../store/redis';
import type { SentinelAddress, SentinelOptions } from '../store/sentinel';
import type { Durability, Store } from '../store/types';
import { DEFAULT_COMMAND_TIMEOUT_MS, DURABILITIES } from '../store/types';
import { parseIntIn, parseUrlList, parseYesNo, readFileFlag, readPasswordFile, secretOption } from './parse';
import { DEFAULTS } from '../core/defaults';

/** "host:port,host:port" as addresses, or a message naming the flag */
export function parseSentinels(value: string): SentinelAddress[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0)
    throw new InvalidArgumentError(`--redis-sentinel takes host:port[,host:port…], got '${value}'`);
  return parts.map((p) => {
    const m = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(p);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535)
      throw new InvalidArgumentError(`--redis-sentinel takes host:port[,host:port…], got '${p}'`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

export const defaultNodeId = (): string => `${os.hostname()}-${process.pid}`;

/**
 * The store group's options. `redis: 'optional'` (`wizard up`): --redis has no default,
 * because no Redis means the in-memory store.
 */
export const storeOptions = ({ redis = 'required' }: { redis?: 'required' | 'optional' } = {}): Option[] => [
  redis === 'required'
    ? new Option(
        '--redis <url>',
        'Redis URL (rediss:// for TLS); a Redis Cluster: any node, or several comma-separated',
      )
        .env('REDIS_URL')
        .default(DEFAULTS.redisUrl)
        .argParser(parseUrlList('--redis', ['redis', 'rediss']))
    : new Option('--redis <url>', 'Redis URL; without it everything runs in memory')
        .env('REDIS_URL')
        .argParser((v: string) => (v === '' ? undefined : parseUrlList('--redis', ['redis', 'rediss'])(v))),
  new Option('--prefix <p>', 'key prefix: every key lives under it')
    .env('WIZARD_PREFIX')
    .default(DEFAULTS.prefix)
    .argParser((v: string) => {
      if (!/^[\w.:-]{1,64}$/.test(v))
        throw new InvalidArgumentError(`--prefix must be 1-64 of letters, digits, _ . : -, got '${v}'`);
      return v;
    }),
  new Option(
    '--shards <n>',
    'shards per queue, set for the whole prefix (default: what it has; new: 2 per Cluster master, 1 on a plain Redis)',
  )
    .env('WIZARD_SHARDS')
    .argParser(parseIntIn('--shards', 1, 1024)),
  new Option('--node-id <id>', 'name of this node (default <hostname>-<pid>)')
    .env('WIZARD_NODE_ID')
    .argParser((v: string) => {
      if (!/^[\w.:@-]{1,128}$/.test(v))
        throw new InvalidArgumentError(`--node-id must be 1-128 of letters, digits, _ . : @ -, got '${v}'`);
      return v;
    }),
  new Option('--result-ttl-ms <ms>', 'finished jobs expire this long after they finish')
    .env('WIZARD_RESULT_TTL_MS')
    .default(DEFAULTS.resultTtlMs)
    .argParser(parseIntIn('--result-ttl-ms', 1000)),
  new Option('--event-retention-ms <ms>', 'the event log keeps this much history')
    .env('WIZARD_EVENT_RETENTION_MS')
    .default(DEFAULTS.eventRetentionMs)
    .argParser(parseIntIn('--event-retention-ms', 1000)),
  new Option(
    '--redis-password-file <file>',
    "the Redis password, the file's first line (a deploy's secret; the URL names the ACL user: redis://wizard@host:6379); it wins over a password in the URL",
  ).env('REDIS_PASSWORD_FILE'),
  // TLS for Redis (rediss://): the CA, and a client certificate and key, as files
  new Option('--redis-ca <file>', "CA certificate (PEM) that signed the Redis server's (rediss://)").env('REDIS_CA'),
  new Option('--redis-cert <file>', 'client certificate (PEM) for Redis, with --redis-key').env('REDIS_CERT'),
  new Option('--redis-key <file>', 'private key (PEM) of --redis-cert').env('REDIS_KEY'),
  // Sentinel and durability
  new Option(
    '--redis-sentinel <list>',
    'Sentinels (host:port,…) that name the master, with --redis-master; --redis then gives only the scheme and password',
  )
    .env('REDIS_SENTINELS')
    .argParser(parseSentinels),
  new Option('--redis-master <name>', 'the name the Sentinels monitor the master under')
    .env('REDIS_MASTER_NAME')
    .argParser((v: string) => {
      if (!/^[\w.:-]{1,128}$/.test(v))
        throw new InvalidArgumentError(`--redis-master must be 1-128 of letters, digits, _ . : -, got '${v}'`);
      return v;
    }),
  new Option('--redis-sentinel-user <name>', "the Sentinels' ACL user (with their password)").env(
    'REDIS_SENTINEL_USER',
  ),
  secretOption(
    '--redis-sentinel-password <password>',
    "the password the Sentinels ask for (their requirepass, or their ACL user's)",
    'REDIS_SENTINEL_PASSWORD',
  ),
  new Option('--redis-sentinel-password-file <file>', "the Sentinels' password, the file's first line").env(
    'REDIS_SENTINEL_PASSWORD_FILE',
  ),
  new Option(
    '--redis-sentinel-tls <yes|no>',
    'TLS to the Sentinels, with --redis-ca, --redis-cert and --redis-key (default: yes when --redis is rediss://)',
  )
    .env('REDIS_SENTINEL_TLS')
    .choices(['yes', 'no']),
  new Option(
    '--durability <d>',
    'replica: every write a user is told succeeded waits for a replica (WAIT 1); none: as Redis replicates, asynchronously',
  )
    .env('WIZARD_DURABILITY')
    .choices(DURABILITIES)
    .default('none'),
  new Option(
    '--durability-timeout-ms <ms>',
    'with --durability replica: a write no replica confirms in this time is a 503 (safe to retry)',
  )
    .env('WIZARD_DURABILITY_TIMEOUT_MS')
    .default(1000)
    .argParser(parseIntIn('--durability-timeout-ms', 1, 60_000)),
  new Option(
    '--allow-eviction [yes|no]',
    'accept a Redis whose maxmemory-policy can evict keys: a warning at start and every hour instead of exit 2',
  )
    .env('WIZARD_ALLOW_EVICTION')
    .preset('yes')
    .argParser(parseYesNo('--allow-eviction')),
  new Option(
    '--store-timeout-ms <ms>',
    'a Redis call with no answer in this time fails (a 503 at the API) and its connection is replaced',
  )
    .env('WIZARD_STORE_TIMEOUT_MS')
    .default(DEFAULT_COMMAND_TIMEOUT_MS)
    .argParser(parseIntIn('--store-timeout-ms', 1, 600_000)),
];

export interface StoreFlags {
  redis?: string;
  redisCa?: string;
  redisCert?: string;
  redisKey?: string;
  redisPasswordFile?: string;
  redisSentinel?: SentinelAddress[];
  redisMaster?: string;
  redisSentinelUser?: string;
  redisSentinelPassword?: string;
  redisSentinelPasswordFile?: string;
  redisSentinelTls?: 'yes' | 'no';
  durability?: Durability;
  durabilityTimeoutMs?: number;
  /** --allow-eviction: a maxmemory-policy that can evict keys is a warning, not an error (src/roles/eviction-watch.ts) */
  allowEviction?: boolean;
  /** --store-timeout-ms: a Redis call's deadline */
  storeTimeoutMs?: number;
  prefix: string;
  nodeId?: string;
  resultTtlMs?: number;
  eventRetentionMs?: number;
  /** --shards: the shard count to set for the prefix */
  shards?: number;
  /** --bot-queue (roles that have it): its jobs stay in shard 0 */
  botQueue?: string;
}

/** the store the flags name, opened (the Redis client loads only now) */
export async function storeFromFlags(flags: StoreFlags): Promise<Store> {
  const { prefix, resultTtlMs, eventRetentionMs, shards, botQueue } = flags;
  const redisTls = redisTlsFromFlags(flags);
  if (redisTls && !flags.redis?.startsWith('rediss://'))
    throw new UsageError('--redis-ca, --redis-cert and --redis-key need a rediss:// --redis URL');
  const sentinel = sentinelFromFlags(flags);
  const redis = redisUrlFromFlags(flags, sentinel !== undefined);
  if (flags.durability === 'replica' && !redis && !sentinel)
    throw new UsageError(
      '--durability replica needs Redis with a replica (--redis or --redis-sentinel): the in-memory store has none',
    );
  const { openStore } = await import('../store'); // the Redis client loads when a role runs
  return openStore({
    redisUrl: redis,
    redisTls,
    prefix,
    ...(resultTtlMs ? { resultTtlMs } : {}),
    ...(eventRetentionMs ? { eventRetentionMs } : {}),
    ...(shards ? { shards } : {}),
    ...(botQueue ? { botQueue } : {}),
    ...(sentinel ? { sentinel } : {}),
    ...(flags.durability ? { durability: flags.durability } : {}),
    ...(flags.durabilityTimeoutMs ? { durabilityTimeoutMs: flags.durabilityTimeoutMs } : {}),
    ...(flags.storeTimeoutMs ? { commandTimeoutMs: flags.storeTimeoutMs } : {}),
  });
}

/** each URL of a --redis list with this password (a URL's own user stays: it is the ACL user) */
export function withPassword(urls: string, password: string): string {
  return urls
    .split(',')
    .map((one) => {
      const u = new URL(one.trim());
      u.password = encodeURIComponent(password);
      return u.toString().replace(/\/$/, '');
    })
    .join(',');
}

/**
 * --redis with the password of --redis-password-file, if given. With Sentinels, --redis gives
 * only the scheme and credentials (the master's address is theirs): redis://sentinel-master
 * stands for it when no --redis is given.
 */
export function redisUrlFromFlags(
  flags: Pick<StoreFlags, 'redis' | 'redisPasswordFile'>,
  sentinel = false,
): string | undefined {
  const url = flags.redis ?? (sentinel ? 'redis://sentinel-master' : undefined);
  if (!flags.redisPasswordFile) return url;
  if (!url)
    throw new UsageError(
      '--redis-password-file needs --redis (REDIS_URL) or --redis-sentinel: the in-memory store has no password',
    );
  return withPassword(url, readPasswordFile('--redis-password-file', flags.redisPasswordFile));
}

type SentinelFlags = Pick<
  StoreFlags,
  | 'redis'
  | 'redisSentinel'
  | 'redisMaster'
  | 'redisSentinelUser'
  | 'redisSentinelPassword'
  | 'redisSentinelPasswordFile'
  | 'redisSentinelTls'
  | 'redisCa'
  | 'redisCert'
  | 'redisKey'
>;

/**
 * --redis-sentinel with --redis-master (both or neither: a UsageError naming the one missing),
 * and what the Sentinels ask for: a password (--redis-sentinel-password or its file, not both),
 * an ACL user, TLS (by default when --redis is rediss://, with the same CA and certificate)
 */
export function sentinelFromFlags(flags: SentinelFlags): SentinelOptions | undefined {
  const { redisSentinel, redisMaster } = flags;
  if (redisMaster && !redisSentinel)
    throw new UsageError('--redis-master needs --redis-sentinel host:port[,host:port…] (REDIS_SENTINELS)');
  if (redisSentinel && !redisMaster)
    throw new UsageError(
      '--redis-sentinel needs --redis-master <name> (REDIS_MASTER_NAME): the name the Sentinels monitor',
    );
  if (!redisSentinel || !redisMaster) return undefined;
  if (flags.redisSentinelPassword && flags.redisSentinelPasswordFile)
    throw new UsageError('--redis-sentinel-password and --redis-sentinel-password-file: give one or the other');
  const password = flags.redisSentinelPasswordFile
    ? readPasswordFile('--redis-sentinel-password-file', flags.redisSentinelPasswordFile)
    : flags.redisSentinelPassword || undefined;
  if (flags.redisSentinelUser && !password)
    throw new UsageError(
      "--redis-sentinel-user needs --redis-sentinel-password or --redis-sentinel-password-file: the user's password",
    );
  const tlsOn = flags.redisSentinelTls ? flags.redisSentinelTls === 'yes' : (flags.redis ?? '').startsWith('rediss://');
  return {
    sentinels: redisSentinel,
    masterName: redisMaster,
    ...(password
      ? { auth: { ...(flags.redisSentinelUser ? { username: flags.redisSentinelUser } : {}), password } }
      : {}),
    ...(tlsOn ? { tls: redisTlsFromFlags(flags) ?? {} } : {}),
  };
}

/** the files' contents, or undefined when no flag is given */
export function redisTlsFromFlags(f: Pick<StoreFlags, 'redisCa' | 'redisCert' | 'redisKey'>): RedisTls | undefined {
  if (!f.redisCa && !f.redisCert && !f.redisKey) return undefined;
  if (!f.redisCert !== !f.redisKey)
    throw new UsageError('--redis-cert and --redis-key go together: give both or neither');
  return {
    ...(f.redisCa ? { ca: readFileFlag('--redis-ca', f.redisCa) } : {}),
    ...(f.redisCert ? { cert: readFileFlag('--redis-cert', f.redisCert) } : {}),
    ...(f.redisKey ? { key: readFileFlag('--redis-key', f.redisKey) } : {}),
  };
}

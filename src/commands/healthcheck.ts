/**
 * `wizard healthcheck`: the container HEALTHCHECK, right for every role. It asks what the role
 * itself depends on, within a couple of seconds, and exits 0 (healthy) or 1 (unhealthy; never 2,
 * which Docker reserves):
 *   api, up           GET http://127.0.0.1:<port>/healthz (the process serves)
 *   worker, scheduler PING Redis, and the prefix (--prefix, WIZARD_PREFIX) has a format key: a
 *                     role has joined it (an unrelated Redis, or one where no role ever came, is
 *                     not healthy); their only dependency, and Docker restarts a dead process anyway
 *   bot               GET <api>/healthz (a bot speaks only HTTP to the API)
 * With no --role it reads the role (and --port, --redis, --prefix, --api, the Redis password file,
 * TLS files and Sentinel flags) from PID 1's command line, which in a container is
 * `wizard <role> ...`: one image HEALTHCHECK serves every role. The Redis of worker and
 * scheduler is reached as the role reaches it: REDIS_PASSWORD_FILE, REDIS_CA…, the Sentinels'
 * password and TLS, from the flags or the environment.
 */
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { errorMessage } from '../core/errors';
import type { SentinelOptions } from '../store/sentinel';
import { parseIntIn } from './parse';
import { parseSentinels, redisTlsFromFlags, redisUrlFromFlags, sentinelFromFlags, StoreFlags } from './store-options';
import type { RedisTls } from '../store/redis';

export const HEALTH_ROLES = ['api', 'up', 'worker', 'scheduler', 'bot'] as const;
type HealthRole = (typeof HEALTH_ROLES)[number];

/** the role and the flags given to the `wizard <role>` whose argv this is (null when it is none) */
export function roleFromArgv(argv: string[]): { role: HealthRole; flags: Record<string, string> } | null {
  const i = argv.findIndex((a) => (HEALTH_ROLES as readonly string[]).includes(a));
  if (i < 0) return null;
  const flags: Record<string, string> = {};
  for (let j = i + 1; j < argv.length; j++) {
    const m =
      /^--(port|redis|api|prefix|redis-sentinel|redis-master|redis-password-file|redis-ca|redis-cert|redis-key|redis-sentinel-user|redis-sentinel-password|redis-sentinel-password-file|redis-sentinel-tls)(?:=(.*))?$/.exec(
        argv[j],
      );
    if (m) flags[m[1]] = m[2] ?? argv[++j] ?? '';
  }
  return { role: argv[i] as HealthRole, flags };
}

function pid1Argv(): string[] {
  try {
    return fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

async function httpOk(url: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
}

/** PING, then the prefix's format key (src/store/format.ts): a wizard role has joined this prefix */
async function redisJoined(redis: string, prefix: string, timeoutMs: number, tls?: RedisTls): Promise<void> {
  const { createClient } = await import('redis'); // loaded only for a Redis check: the CLI starts fast
  const clients: ReturnType<typeof createClient>[] = [];
  const connect = async (url: string) => {
    const client = createClient({
      url,
      socket: { connectTimeout: timeoutMs, reconnectStrategy: false, ...(tls ? { tls: true as const, ...tls } : {}) },
    });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };
  const check = async () => {
    const url = redis.split(',')[0].trim(); // a Cluster's seed nodes: the first; a MOVED names the node that has the key
    const client = await connect(url);
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    const { redisKeys } = await import('../store/keys');
    const key = redisKeys(prefix).format;
    let found: number;
    try {
      found = await client.exists(key);
    } catch (err) {
      const moved = /^MOVED \d+ (\S+)/.exec(errorMessage(err));
      if (!moved) throw err;
      const u = new URL(url);
      u.host = moved[1];
      found = await (await connect(u.toString())).exists(key);
    }
    if (!found)
      throw new Error(`no wizard data under prefix '${prefix}' (no role has joined it: a wrong --redis or --prefix?)`);
  };
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error('Redis did not answer in time')), timeoutMs).unref(),
      ),
    ]);
  } finally {
    clients.forEach((c) => c.destroy());
  }
}

/** the store flags of the role, as it was given them: its own command line's, else the environment's */
function redisFlags(given: Record<string, string>, env: NodeJS.ProcessEnv): StoreFlags {
  const pick = (flag: string, name: string) => given[flag] ?? env[name] ?? undefined;
  const sentinels = pick('redis-sentinel', 'REDIS_SENTINELS');
  const tls = pick('redis-sentinel-tls', 'REDIS_SENTINEL_TLS');
  return {
    prefix: given.prefix ?? env.WIZARD_PREFIX ?? 'wizard',
    redis: pick('redis', 'REDIS_URL') ?? (sentinels ? undefined : 'redis://127.0.0.1:6379'),
    redisPasswordFile: pick('redis-password-file', 'REDIS_PASSWORD_FILE'),
    redisCa: pick('redis-ca', 'REDIS_CA'),
    redisCert: pick('redis-cert', 'REDIS_CERT'),
    redisKey: pick('redis-key', 'REDIS_KEY'),
    redisSentinel: sentinels ? parseSentinels(sentinels) : undefined,
    redisMaster: pick('redis-master', 'REDIS_MASTER_NAME'),
    redisSentinelUser: pick('redis-sentinel-user', 'REDIS_SENTINEL_USER'),
    redisSentinelPassword: pick('redis-sentinel-password', 'REDIS_SENTINEL_PASSWORD'),
    redisSentinelPasswordFile: pick('redis-sentinel-password-file', 'REDIS_SENTINEL_PASSWORD_FILE'),
    redisSentinelTls: tls === 'yes' || tls === 'no' ? tls : undefined,
  };
}

/** the master the Sentinels name, at the scheme and credentials of url */
async function sentinelMasterUrl(url: string, sentinel: SentinelOptions, timeoutMs: number): Promise<string> {
  const { SentinelMaster, urlAt } = await import('../store/sentinel');
  const m = new SentinelMaster(sentinel, Math.min(timeoutMs, 1000));
  try {
    return urlAt(url, await m.resolve(timeoutMs / 2));
  } finally {
    m.close();
  }
}

export const healthcheckCommand = new Command('healthcheck')
  .description("exit 0 when this container's role is healthy, 1 when not (the image's HEALTHCHECK)")
  .addOption(
    new Option('--role <role>', "the role to check (default: PID 1's, from /proc/1/cmdline)").choices(HEALTH_ROLES),
  )
  .addOption(
    new Option('--timeout-ms <ms>', 'give up after this long')
      .default(2000)
      .argParser(parseIntIn('--timeout-ms', 1, 600_000)),
  )
  .action(async (flags: { role?: HealthRole; timeoutMs: number }) => {
    const detected = roleFromArgv(pid1Argv());
    const role = flags.role ?? detected?.role;
    const given = detected && detected.role === role ? detected.flags : {};
    const env = process.env;
    let target = '';
    try {
      if (!role) throw new Error('no role: pass --role (PID 1 is not `wizard <role>`)');
      if (role === 'api' || role === 'up') {
        target = `http://127.0.0.1:${given.port ?? env.PORT ?? 8000}/healthz`;
        await httpOk(target, flags.timeoutMs);
      } else if (role === 'bot') {
        target = `${(given.api ?? env.WIZARD_API_URL ?? 'http://127.0.0.1:8000').replace(/\/+$/, '')}/healthz`;
        await httpOk(target, flags.timeoutMs);
      } else {
        const f = redisFlags(given, env);
        target = f.redis ?? '';
        const sentinel = sentinelFromFlags(f);
        target = redisUrlFromFlags(f, sentinel !== undefined) ?? target;
        if (sentinel) target = await sentinelMasterUrl(target, sentinel, flags.timeoutMs);
        await redisJoined(target, given.prefix ?? env.WIZARD_PREFIX ?? 'wizard', flags.timeoutMs, redisTlsFromFlags(f));
      }
      process.stdout.write(`healthy: ${role} (${target.replace(/\/\/[^@/]*@/, '//***@')})\n`);
    } catch (err) {
      // a plain Error: cli.ts prints it and exits 1, which Docker reads as unhealthy
      throw new Error(`unhealthy: ${role ?? '?'} ${target.replace(/\/\/[^@/]*@/, '//***@')}: ${errorMessage(err)}`);
    }
  });

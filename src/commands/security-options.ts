/**
 * The flags of issue #7: API tokens, the rate limit, CORS, trusted proxies, TLS for the API and
 * for Redis, and the client's CA. Each declares its environment variable; a bad value is a usage
 * error naming the flag (exit 2).
 */
import fs from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { ApiToken, checkExposure, generateTokens, isLoopback, parseTokenFile, parseTokenList, Role } from '../core/access';
import { errorMessage, UsageError } from '../core/errors';
import { tokenTable } from '../roles/api/access';
import { ApiSecurity, DEFAULT_RATE_LIMIT } from '../roles/api/security';
import type { RedisTls } from '../store/redis';
import { parseIntIn } from './options';

export function readFileFlag(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

const asArgumentError = <T>(fn: (v: string) => T) => (v: string): T => {
  try {
    return fn(v);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
};

function parseOrigins(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((o) => {
      let u: URL | null = null;
      try {
        u = new URL(o);
      } catch {
        /* reported below */
      }
      if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o.replace(/\/$/, '')) {
        throw new InvalidArgumentError(`--cors-origins takes origins like http://localhost:3000 (scheme, host, port; no path, no *), got '${o}'`);
      }
      return u.origin;
    });
}

function parseTrustProxy(value: string): string | false {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  try {
    (require('express') as typeof import('express'))().set('trust proxy', v); // Express compiles the list: a bad address throws here (loaded only then)
  } catch (err) {
    throw new InvalidArgumentError(`--trust-proxy takes addresses, subnets or loopback/linklocal/uniquelocal, comma-separated, got '${value}': ${errorMessage(err)}`);
  }
  return v;
}

/** the API node's flags (api, up) */
export const apiSecurityOptions = (): Option[] => [
  new Option('--api-tokens <list>', 'API tokens, name:role:token,… (roles: admin, bot, client); prefer the env variable: flags show in ps').env('WIZARD_API_TOKENS').argParser(asArgumentError((v) => parseTokenList(v))),
  new Option('--tokens-file <file>', 'API tokens, one "name role token" a line').env('WIZARD_TOKENS_FILE'),
  new Option('--insecure', 'allow a non-loopback --host with no API tokens (every endpoint open)'),
  new Option('--rate-limit-max <n>', 'requests per window per client IP and per token, shared by every API node (0: off)').env('RATE_LIMIT_MAX').default(DEFAULT_RATE_LIMIT.max).argParser(parseIntIn('--rate-limit-max', 0)),
  new Option('--rate-limit-window-ms <ms>', 'the rate limit\'s sliding window').env('RATE_LIMIT_WINDOW_MS').default(DEFAULT_RATE_LIMIT.windowMs).argParser(parseIntIn('--rate-limit-window-ms', 100, 86_400_000)),
  new Option('--cors-origins <list>', 'origins a browser may call the API from, comma-separated (none by default)').env('CORS_ORIGINS').argParser(parseOrigins),
  new Option('--trust-proxy <list>', "proxies whose X-Forwarded-For names the client (Express's trust proxy, e.g. loopback or 10.0.0.2)").env('WIZARD_TRUST_PROXY').argParser(parseTrustProxy),
  new Option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM), with --tls-key').env('WIZARD_TLS_CERT'),
  new Option('--tls-key <file>', 'the private key (PEM) of --tls-cert').env('WIZARD_TLS_KEY'),
];

export interface ApiSecurityFlags {
  host: string;
  adminToken?: string;
  apiTokens?: ApiToken[];
  tokensFile?: string;
  insecure?: boolean;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  corsOrigins?: string[];
  trustProxy?: string | false;
  tlsCert?: string;
  tlsKey?: string;
}

/** the tokens of a --tokens-file */
export const readTokenFile = (file: string, flag = '--tokens-file'): ApiToken[] => parseTokenFile(readFileFlag(flag, file), flag);

/** the first token of this role in a tokens file (a bot's registration token, `wizard tokens show --role`) */
export function tokenOfRole(file: string, role: Role, flag = '--tokens-file'): string {
  const found = readTokenFile(file, flag).find((t) => t.role === role);
  if (!found) throw new UsageError(`${flag}: ${file} holds no token with the role ${role}`);
  return found.token;
}

/**
 * The API's guards from its flags. A non-loopback --host with no tokens and no --insecure is a
 * usage error (exit 2), unless `open` is 'generate' (`wizard up`, the image's default command):
 * then it makes a token per role, answered in `generated` for the command to show once.
 */
export function securityFromFlags(
  f: ApiSecurityFlags,
  open: 'refuse' | 'generate' = 'refuse',
): { security: ApiSecurity; tls?: { cert: string; key: string }; generated?: ApiToken[] } {
  const given = [...(f.apiTokens ?? []), ...(f.tokensFile ? readTokenFile(f.tokensFile) : [])];
  const generated = open === 'generate' && given.length === 0 && f.insecure !== true && !isLoopback(f.host) ? generateTokens() : undefined;
  const tokens = generated ?? given;
  checkExposure(f.host, tokens.length > 0, f.insecure === true);
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
  const tls = f.tlsCert && f.tlsKey ? { cert: readFileFlag('--tls-cert', f.tlsCert), key: readFileFlag('--tls-key', f.tlsKey) } : undefined;
  return {
    security: {
      tokens: tokens.length > 0 ? tokenTable(tokens, f.adminToken || undefined) : null,
      rateLimit: f.rateLimitMax > 0 ? { max: f.rateLimitMax, windowMs: f.rateLimitWindowMs } : null,
      corsOrigins: f.corsOrigins ?? [],
      trustProxy: f.trustProxy ?? false,
      https: tls !== undefined,
    },
    tls,
    ...(generated ? { generated } : {}),
  };
}

/** what `wizard up` prints on stderr, once, about the tokens it made (they are kept nowhere) */
export function generatedTokensNotice(tokens: ApiToken[], url: string): string {
  return [
    `wizard: ${url} is reachable from other machines and no API tokens were given, so these were made for this run (shown once, kept nowhere):`,
    ...tokens.map((t) => `  ${t.role.padEnd(6)} ${t.token}`),
    "Paste the admin one in the dashboard's Token field, or send Authorization: Bearer <token>. Set WIZARD_API_TOKENS or --tokens-file (wizard tokens init) to keep tokens across restarts.",
    '',
  ].join('\n');
}

/** TLS for Redis (rediss://): the CA, and a client certificate and key, as files */
export const redisTlsOptions = (): Option[] => [
  new Option('--redis-ca <file>', 'CA certificate (PEM) that signed the Redis server\'s (rediss://)').env('REDIS_CA'),
  new Option('--redis-cert <file>', 'client certificate (PEM) for Redis, with --redis-key').env('REDIS_CERT'),
  new Option('--redis-key <file>', 'private key (PEM) of --redis-cert').env('REDIS_KEY'),
];

export interface RedisTlsFlags {
  redisCa?: string;
  redisCert?: string;
  redisKey?: string;
}

/** the files' contents, or undefined when no flag is given */
export function redisTlsFromFlags(f: RedisTlsFlags): RedisTls | undefined {
  if (!f.redisCa && !f.redisCert && !f.redisKey) return undefined;
  if (!f.redisCert !== !f.redisKey) throw new UsageError('--redis-cert and --redis-key go together: give both or neither');
  return {
    ...(f.redisCa ? { ca: readFileFlag('--redis-ca', f.redisCa) } : {}),
    ...(f.redisCert ? { cert: readFileFlag('--redis-cert', f.redisCert) } : {}),
    ...(f.redisKey ? { key: readFileFlag('--redis-key', f.redisKey) } : {}),
  };
}

/** the client's trust for an HTTPS API with its own CA (or set NODE_EXTRA_CA_CERTS) */
export const caOption = () => new Option('--ca <file>', 'CA certificate (PEM) to trust for an HTTPS --api').env('WIZARD_CA');

/** the PEM of --ca, or undefined */
export const caFromFlags = (f: { ca?: string }): string | undefined => (f.ca ? readFileFlag('--ca', f.ca) : undefined);

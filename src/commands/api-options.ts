/**
 * The API group: the flags of an API node (api, up): where it listens, the admin token and API
 * tokens, the rate limit, CORS, trusted proxies, HTTPS, and how the abacus adds. An option that
 * every API node takes goes here; apiFromFlags reads them all.
 */
import { InvalidArgumentError, Option } from 'commander';
import { ABACUS_STRATEGIES, type AbacusStrategy } from '../core/abacus';
import { ApiToken, checkExposure, generateTokens, isLoopback, parseTokenFile, parseTokenList, Role } from '../core/access';
import { errorMessage, UsageError } from '../core/errors';
import { tokenTable } from '../roles/api/access';
import { ApiSecurity, DEFAULT_RATE_LIMIT } from '../roles/api/security';
import { asArgumentError, parseIntIn, readFileFlag } from './parse';

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
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for --trust-proxy: the CLI starts fast
    (require('express') as typeof import('express'))().set('trust proxy', v); // Express compiles the list: a bad address throws here
  } catch (err) {
    throw new InvalidArgumentError(`--trust-proxy takes addresses, subnets or loopback/linklocal/uniquelocal, comma-separated, got '${value}': ${errorMessage(err)}`);
  }
  return v;
}

/** the API group's options */
export const apiOptions = (): Option[] => [
  new Option('--port <n>', 'HTTP port').env('PORT').default(8000).argParser(parseIntIn('--port', 0, 65535)),
  new Option('--host <addr>', 'address to listen on').env('WIZARD_HOST').default('127.0.0.1'),
  new Option('--abacus-strategy <s>', 'how the abacus adds: one atomic Lua step, or WATCH/MULTI/EXEC with retries')
    .env('ABACUS_STRATEGY')
    .choices(ABACUS_STRATEGIES)
    .default('atomic'),
  new Option('--admin-token <t>', 'admin routes need this token; unset, they are refused (prefer the env variable: flags show in ps)').env('ADMIN_TOKEN'),
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

export interface ApiFlags {
  port: number;
  host: string;
  abacusStrategy: AbacusStrategy;
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

/** what an API node is started with, from its flags */
export interface ApiNodeSettings {
  port: number;
  host: string;
  abacusStrategy: AbacusStrategy;
  adminToken?: string;
  security: ApiSecurity;
  tls?: { cert: string; key: string };
}

/**
 * The API node's settings from its flags. A non-loopback --host with no tokens and no --insecure
 * is a usage error (exit 2), unless `open` is 'generate' (`wizard up`, the image's default
 * command): then it makes a token per role, answered in `generated` for the command to show once.
 */
export function apiFromFlags(f: ApiFlags, open: 'refuse' | 'generate' = 'refuse'): { api: ApiNodeSettings; generated?: ApiToken[] } {
  const given = [...(f.apiTokens ?? []), ...(f.tokensFile ? readTokenFile(f.tokensFile) : [])];
  const generated = open === 'generate' && given.length === 0 && f.insecure !== true && !isLoopback(f.host) ? generateTokens() : undefined;
  const tokens = generated ?? given;
  checkExposure(f.host, tokens.length > 0, f.insecure === true);
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
  const tls = f.tlsCert && f.tlsKey ? { cert: readFileFlag('--tls-cert', f.tlsCert), key: readFileFlag('--tls-key', f.tlsKey) } : undefined;
  const adminToken = f.adminToken || undefined;
  const security: ApiSecurity = {
    tokens: tokens.length > 0 ? tokenTable(tokens, adminToken) : null,
    rateLimit: f.rateLimitMax > 0 ? { max: f.rateLimitMax, windowMs: f.rateLimitWindowMs } : null,
    corsOrigins: f.corsOrigins ?? [],
    trustProxy: f.trustProxy ?? false,
    https: tls !== undefined,
  };
  return { api: { port: f.port, host: f.host, abacusStrategy: f.abacusStrategy, adminToken, security, ...(tls ? { tls } : {}) }, ...(generated ? { generated } : {}) };
}

/** the tokens of a --tokens-file */
export const readTokenFile = (file: string, flag = '--tokens-file'): ApiToken[] => parseTokenFile(readFileFlag(flag, file), flag);

/** the first token of this role in a tokens file (a bot's registration token, `wizard tokens show --role`) */
export function tokenOfRole(file: string, role: Role, flag = '--tokens-file'): string {
  const found = readTokenFile(file, flag).find((t) => t.role === role);
  if (!found) throw new UsageError(`${flag}: ${file} holds no token with the role ${role}`);
  return found.token;
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

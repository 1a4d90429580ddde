/**
 * The API group: the flags of an API node (api, up): where it listens, the admin token and API
 * tokens, the rate limit, CORS, trusted proxies, HTTPS, and how the abacus adds. An option that
 * every API node takes goes here; apiFromFlags reads them all.
 */
import { InvalidArgumentError, Option } from 'commander';
import { ABACUS_STRATEGIES, type AbacusStrategy } from '../core/abacus';
import { ApiToken, checkExposure, isLoopback, MIN_TOKEN_LENGTH, parseTokenList } from '../core/tokens';
import { errorMessage, UsageError } from '../core/errors';
import { tokenTable } from '../roles/api/access-gate';
import { ApiSecurity, DEFAULT_CORS_ORIGINS, DEFAULT_MAX_CONNECTIONS, DEFAULT_RATE_LIMIT } from '../roles/api/security';
import { asArgumentError, parseIntIn, readFileFlag, secretOption } from './parse';
import { defaultTokensFile, initTokensFile, readTokenFile } from './secret-files';
import { DEFAULTS } from '../core/defaults';

/**
 * ADMIN_TOKEN, held to what every API token must be (at least MIN_TOKEN_LENGTH characters); empty
 * is unset (compose passes ADMIN_TOKEN=${ADMIN_TOKEN:-}). A UsageError, not commander's
 * InvalidArgumentError: that one quotes the value, and this value is a secret.
 */
function parseAdminToken(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      `ADMIN_TOKEN (--admin-token) must be at least ${MIN_TOKEN_LENGTH} characters, got ${value.length} (try: openssl rand -hex 24)`,
    );
  return value;
}

function parseOrigins(value: string): string[] {
  if (value.trim() === 'none') return [];
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
        throw new InvalidArgumentError(
          `--cors-origins takes origins like http://localhost:3000 (scheme, host, port; no path, no *), or none, got '${o}'`,
        );
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
    throw new InvalidArgumentError(
      `--trust-proxy takes addresses, subnets or loopback/linklocal/uniquelocal, comma-separated, got '${value}': ${errorMessage(err)}`,
    );
  }
  return v;
}

/** --allowed-hosts: host names (or addresses), comma-separated; * for any */
function parseAllowedHosts(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (n !== '*' && !/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]*|[A-Za-z0-9_.-]+)(:\d{1,5})?$/.test(n)) {
      throw new InvalidArgumentError(
        `--allowed-hosts takes host names or addresses (example.com, 10.0.0.5, [::1]), comma-separated, or *, got '${n}'`,
      );
    }
  }
  return names;
}

/** the API group's options */
export const apiOptions = (): Option[] => [
  new Option('--port <n>', 'HTTP port')
    .env('PORT')
    .default(DEFAULTS.port)
    .argParser(parseIntIn('--port', 0, 65535)),
  new Option('--host <addr>', 'address to listen on').env('WIZARD_HOST').default(DEFAULTS.host),
  new Option('--abacus-strategy <s>', 'how the abacus adds: one atomic Lua step, or WATCH/MULTI/EXEC with retries')
    .env('ABACUS_STRATEGY')
    .choices(ABACUS_STRATEGIES)
    .default('atomic'),
  secretOption(
    '--admin-token <t>',
    `admin routes need this token (at least ${MIN_TOKEN_LENGTH} characters); unset, they are refused`,
    'ADMIN_TOKEN',
  ).argParser(parseAdminToken),
  secretOption(
    '--api-tokens <list>',
    'API tokens, name:role:token,… (roles: admin, bot, client)',
    'WIZARD_API_TOKENS',
  ).argParser(asArgumentError((v) => parseTokenList(v))),
  new Option('--tokens-file <file>', 'API tokens, one "name role token" a line').env('WIZARD_TOKENS_FILE'),
  new Option('--insecure', 'allow a non-loopback --host with no API tokens (every endpoint open)'),
  new Option(
    '--rate-limit-max <n>',
    'requests per window per client IP and per token, shared by every API node (0: off)',
  )
    .env('RATE_LIMIT_MAX')
    .default(DEFAULT_RATE_LIMIT.max)
    .argParser(parseIntIn('--rate-limit-max', 0)),
  new Option('--rate-limit-window-ms <ms>', "the rate limit's sliding window")
    .env('RATE_LIMIT_WINDOW_MS')
    .default(DEFAULT_RATE_LIMIT.windowMs)
    .argParser(parseIntIn('--rate-limit-window-ms', 100, 86_400_000)),
  new Option(
    '--cors-origins <list>',
    'origins a browser may call the API from, comma-separated, or none; with no API tokens, also the only other origins whose pages may change state',
  )
    .env('CORS_ORIGINS')
    .default([...DEFAULT_CORS_ORIGINS], DEFAULT_CORS_ORIGINS.join(','))
    .argParser(parseOrigins),
  new Option(
    '--allowed-hosts <list>',
    "with no API tokens: more names the Host header may carry than the node's addresses and localhost, comma-separated (* for any)",
  )
    .env('WIZARD_ALLOWED_HOSTS')
    .argParser(parseAllowedHosts),
  new Option('--max-connections <n>', 'open connections at most: one more is closed at once (0: no cap)')
    .env('WIZARD_MAX_CONNECTIONS')
    .default(DEFAULT_MAX_CONNECTIONS)
    .argParser(parseIntIn('--max-connections', 0, 1_000_000)),
  new Option(
    '--trust-proxy <list>',
    "proxies whose X-Forwarded-For names the client (Express's trust proxy, e.g. loopback or 10.0.0.2)",
  )
    .env('WIZARD_TRUST_PROXY')
    .argParser(parseTrustProxy),
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
  allowedHosts?: string[];
  maxConnections: number;
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
  maxConnections: number;
}

/** the tokens `wizard up` keeps in a file of its own, made at its first start beyond loopback */
export interface KeptTokens {
  file: string;
  /** made at this start (else read from the file an earlier start wrote) */
  made: boolean;
  tokens: ApiToken[];
}

/**
 * The API node's settings from its flags. A non-loopback --host with no tokens and no --insecure
 * is a usage error (exit 2), unless `open` is 'keep' (`wizard up`, the image's default command):
 * then its tokens are those of defaultTokensFile(), a token per role made there at the first start
 * and read again at every later one (as `wizard tokens init` does), answered in `kept` for the
 * command to say where they are.
 */
export function apiFromFlags(
  f: ApiFlags,
  open: 'refuse' | 'keep' = 'refuse',
): { api: ApiNodeSettings; kept?: KeptTokens } {
  const given = [...(f.apiTokens ?? []), ...(f.tokensFile ? readTokenFile(f.tokensFile) : [])];
  let kept: KeptTokens | undefined;
  if (open === 'keep' && given.length === 0 && f.insecure !== true && !isLoopback(f.host)) {
    const file = defaultTokensFile();
    const where = "wizard up's tokens file (give --tokens-file or WIZARD_API_TOKENS, or set XDG_STATE_HOME)";
    const made = initTokensFile(file, where, 'wizard up');
    kept = { file, made, tokens: readTokenFile(file, where) };
  }
  const tokens = kept?.tokens ?? given;
  checkExposure(f.host, tokens.length > 0, f.insecure === true);
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
  const tls =
    f.tlsCert && f.tlsKey
      ? { cert: readFileFlag('--tls-cert', f.tlsCert), key: readFileFlag('--tls-key', f.tlsKey) }
      : undefined;
  const adminToken = f.adminToken || undefined;
  const security: ApiSecurity = {
    tokens: tokens.length > 0 ? tokenTable(tokens, adminToken) : null,
    rateLimit: f.rateLimitMax > 0 ? { max: f.rateLimitMax, windowMs: f.rateLimitWindowMs } : null,
    corsOrigins: f.corsOrigins ?? [...DEFAULT_CORS_ORIGINS],
    trustProxy: f.trustProxy ?? false,
    https: tls !== undefined,
    ...(f.allowedHosts ? { allowedHosts: f.allowedHosts } : {}),
  };
  const api = {
    port: f.port,
    host: f.host,
    abacusStrategy: f.abacusStrategy,
    adminToken,
    security,
    maxConnections: f.maxConnections,
    ...(tls ? { tls } : {}),
  };
  return { api, ...(kept ? { kept } : {}) };
}

/** what `wizard up` prints on stderr about the tokens it keeps (never the tokens: stderr ends up in `docker logs`) */
export function keptTokensNotice(kept: KeptTokens, url: string): string {
  return [
    `wizard: ${url} is reachable from other machines and no API tokens were given, so this node's tokens (${kept.tokens.map((t) => t.role).join(', ')}) ${kept.made ? 'were made and are kept' : 'are kept, from an earlier start,'} in ${kept.file}.`,
    `Read them with: wizard tokens show --file ${kept.file}  (paste the admin one in the dashboard's Token field, or send Authorization: Bearer <token>); remove the file for new ones.`,
    '',
  ].join('\n');
}

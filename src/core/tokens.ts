/**
 * Who may call what. With API tokens configured (WIZARD_API_TOKENS, --tokens-file) every
 * request but the liveness probe and the dashboard's files needs a bearer token, and each token
 * has a role:
 *
 * - admin:  everything (populate, delete bots, reset the sum, the dead-letter queue, …);
 * - client: submit work and read;
 * - bot:    register a bot (POST /bots/register); the per-bot token the registration answers then
 *           claims, starts, completes and fails that bot's own jobs, heartbeats, and reads.
 *
 * What each route needs is declared with the route (src/roles/api/route.ts). ADMIN_TOKEN is an
 * admin token too. Tokens are compared in constant time: sha256 of both sides,
 * timingSafeEqual, against every entry (no early exit).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from './errors';

export const ROLES = ['admin', 'bot', 'client'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  name: string;
  role: Role;
  token: string;
  /** its jobs always carry this group (a tokens file's `group=<name>`) */
  group?: string;
}

/** who a request is: a configured token's name and role, or a registered bot */
export interface Principal {
  name: string;
  role: Role;
  /** set for a per-bot token (from POST /bots/register) */
  botId?: string;
  /** the group this token's jobs always carry (a tokens file's `group=<name>`: docs/flow-control.md) */
  group?: string;
}

/** a principal as a job's record keeps it (Job.principal): `<role>:<token name>`, or a registered bot's `bot:<bot id>` */
export function principalName(p: Principal): string {
  return p.botId !== undefined ? `bot:${p.botId}` : `${p.role}:${p.name}`;
}

export const MIN_TOKEN_LENGTH = 16;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function parseEntry(fields: string[], where: string): ApiToken {
  const [name, role, token, ...rest] = fields;
  const bound = rest.length === 1 ? /^group=([\w.-]{1,128})$/.exec(rest[0]) : null;
  if (!name || !role || !token || (rest.length > 0 && !bound))
    throw new UsageError(`${where}: a token is written name role token [group=<group>], got ${fields.length} field(s)`);
  if (!/^[\w.@-]{1,64}$/.test(name))
    throw new UsageError(`${where}: the name '${name}' must be 1-64 of letters, digits, _ . @ -`);
  if (!(ROLES as readonly string[]).includes(role))
    throw new UsageError(`${where}: the role of '${name}' must be one of ${ROLES.join(', ')}, got '${role}'`);
  if (token.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      `${where}: the token of '${name}' must be at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 24)`,
    );
  return { name, role: role as Role, token, ...(bound ? { group: bound[1] } : {}) };
}

/** WIZARD_API_TOKENS: `name:role:token,name:role:token` */
export function parseTokenList(value: string, flag = '--api-tokens'): ApiToken[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i) => {
      const first = entry.indexOf(':');
      const second = entry.indexOf(':', first + 1);
      const fields =
        first < 0 || second < 0
          ? entry.split(':')
          : [entry.slice(0, first), entry.slice(first + 1, second), entry.slice(second + 1)];
      return parseEntry(fields, `${flag} entry ${i + 1}`);
    });
}

/** a tokens file: one `name role token [group=<group>]` a line; blank lines and # comments are skipped */
export function parseTokenFile(text: string, flag = '--tokens-file'): ApiToken[] {
  const out: ApiToken[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    out.push(parseEntry(t.split(/\s+/), `${flag} line ${i + 1}`));
  });
  return out;
}

/**
 * Fresh tokens, one per role and named after it (48 hex characters each): what `wizard tokens
 * init` writes and what `wizard up` makes when it serves beyond loopback with none given.
 */
export function generateTokens(): ApiToken[] {
  return ROLES.map((role) => ({ name: role, role, token: randomBytes(24).toString('hex') }));
}

/** the text of a tokens file (parseTokenFile reads it back), after a # comment */
export function formatTokenFile(tokens: ApiToken[], comment: string): string {
  return (
    [...comment.split('\n').map((l) => `# ${l}`), ...tokens.map((t) => `${t.name} ${t.role} ${t.token}`)].join('\n') +
    '\n'
  );
}

/** the configured tokens, looked up in constant time */
export class TokenTable {
  private readonly entries: { name: string; role: Role; digest: Buffer; group?: string }[];

  constructor(tokens: ApiToken[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.entries = tokens.map((t) => {
      const digest = sha256(t.token);
      if (digests.has(digest.toString('hex')))
        throw new UsageError(`the token of '${t.name}' is used twice: every token must be distinct`);
      if (names.has(t.name)) throw new UsageError(`the token name '${t.name}' is used twice`);
      names.add(t.name);
      digests.add(digest.toString('hex'));
      return { name: t.name, role: t.role, digest, ...(t.group ? { group: t.group } : {}) };
    });
  }

  /** this table and more tokens */
  plus(tokens: ApiToken[]): TokenTable {
    const t = new TokenTable(tokens);
    for (const e of t.entries)
      if (this.entries.some((mine) => mine.name === e.name))
        throw new UsageError(`the token name '${e.name}' is used twice`);
    const both = Object.create(TokenTable.prototype) as TokenTable;
    (both as unknown as { entries: unknown[] }).entries = [...this.entries, ...t.entries];
    return both;
  }

  get size(): number {
    return this.entries.length;
  }

  hasRole(role: Role): boolean {
    return this.entries.some((e) => e.role === role);
  }

  /** the principal a presented token names, or null; every entry is compared, whatever matches */
  find(token: string): Principal | null {
    const presented = sha256(token);
    let found: Principal | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.digest) && !found)
        found = { name: e.name, role: e.role, ...(e.group ? { group: e.group } : {}) };
    }
    return found;
  }
}

/** is this listen address reachable only from this machine? */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** an API with no tokens listens on loopback only, unless told --insecure */
export function checkExposure(host: string, tokensOn: boolean, insecure: boolean): void {
  if (tokensOn || insecure || isLoopback(host)) return;
  throw new UsageError(
    `--host ${host} is reachable from other machines and no API tokens are set: set WIZARD_API_TOKENS or --tokens-file, or pass --insecure to serve it open`,
  );
}

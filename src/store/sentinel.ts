/**
 * Which Redis is the master, as a set of Sentinels tells it (`SENTINEL get-master-addr-by-name`).
 *
 * node-redis's own sentinel client (createSentinel) is a client of another type, with its own
 * pools and reconnection, so it cannot be one of our Links (link.ts: a deadline on every call,
 * a dead connection replaced). Here the Sentinels are only asked where the master is: the store
 * connects plain clients to that address, and replaces them when it changes. A change is seen
 * at once from a Sentinel's `+switch-master` message (one subscription per Sentinel), and within
 * a poll interval when those messages are missed (a Sentinel restarted, a subscription lost);
 * a READONLY answer (a demoted master) or a lost connection asks the Sentinels again too.
 * Sentinels that ask for a password (requirepass, or an ACL user in sentinel.conf) are given
 * `auth`, and reached over TLS with `tls`, on both the asking and the subscribing connections.
 */
import { createClient } from 'redis';
import { errorMessage, StoreUnavailableError } from '../core/errors';
import { Link } from './link';
import type { RedisTls } from './redis/shared';

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface SentinelOptions {
  /** the Sentinels (any of them answers) */
  sentinels: SentinelAddress[];
  /** the name the Sentinels monitor the master under */
  masterName: string;
  /** what the Sentinels themselves ask for (their requirepass, or an ACL user of sentinel.conf) */
  auth?: { username?: string; password: string };
  /** TLS to the Sentinels (their tls-port), with this CA and client certificate */
  tls?: RedisTls;
}

/** url (its scheme, user and password) at the address a Sentinel named */
export function urlAt(url: string, { host, port }: SentinelAddress): string {
  const u = new URL(url);
  u.hostname = host.includes(':') ? `[${host}]` : host;
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}

export const sentinelLocation = (o: SentinelOptions): string =>
  `sentinel://${o.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${o.masterName}`;

const sameAddress = (a: SentinelAddress | null, b: SentinelAddress | null) =>
  a?.host === b?.host && a?.port === b?.port;

type SentinelClient = ReturnType<typeof createClient>;

export class SentinelMaster {
  /** the master as last told (null before the first answer) */
  current: SentinelAddress | null = null;
  private readonly subscribers: SentinelClient[] = [];
  /** a connection per Sentinel to ask it, with deadlines (link.ts), opened on first use */
  private readonly askers = new Map<SentinelAddress, Link>();
  /** each Sentinel connection's last error */
  private readonly linkErrors = new Map<SentinelAddress, string>();
  private readonly poll: NodeJS.Timeout;
  private closed = false;
  private asking: Promise<SentinelAddress> | null = null;
  private readonly switched: ((to: SentinelAddress, from: SentinelAddress) => void)[] = [];
  lastError = '';

  constructor(
    private readonly o: SentinelOptions,
    private readonly deadlineMs = 1000,
    pollEveryMs = 1000,
  ) {
    this.poll = setInterval(() => void this.refresh().catch(() => undefined), pollEveryMs);
    this.poll.unref();
    for (const s of o.sentinels) this.subscribe(s);
  }

  /** fn is told each time the master's address changes (not when it is first learnt) */
  onSwitch(fn: (to: SentinelAddress, from: SentinelAddress) => void): void {
    this.switched.push(fn);
  }

  get location(): string {
    return sentinelLocation(this.o);
  }

  /** ask the Sentinels where the master is now (one question at a time); the answer is kept */
  refresh(): Promise<SentinelAddress> {
    this.asking ??= this.ask().finally(() => (this.asking = null));
    return this.asking;
  }

  /** the master's address, asking the Sentinels until one answers (or untilMs pass: StoreUnavailableError) */
  async resolve(untilMs = Infinity): Promise<SentinelAddress> {
    const until = Date.now() + untilMs;
    for (let i = 0; ; i++) {
      try {
        return await this.refresh();
      } catch (err) {
        if (this.closed || Date.now() >= until) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(i, 4), 1000)));
      }
    }
  }

  private async ask(): Promise<SentinelAddress> {
    const errors: string[] = [];
    for (const s of this.o.sentinels) {
      try {
        const reply = await this.askOne(s, ['SENTINEL', 'get-master-addr-by-name', this.o.masterName]);
        if (!Array.isArray(reply) || reply.length < 2) {
          errors.push(`${s.host}:${s.port} knows no master named '${this.o.masterName}'`);
          continue;
        }
        this.learn({ host: String(reply[0]), port: Number(reply[1]) });
        return this.current!;
      } catch (err) {
        errors.push(`${s.host}:${s.port}: ${errorMessage(err)}`);
      }
    }
    this.lastError = `no Sentinel named the master: ${errors.join('; ')}`;
    throw new StoreUnavailableError(`Redis at ${this.location} is unavailable: ${this.lastError}`);
  }

  private learn(to: SentinelAddress): void {
    const from = this.current;
    if (sameAddress(from, to)) return;
    this.current = to;
    if (from && !this.closed) for (const fn of this.switched) fn(to, from);
  }

  /** a client of one Sentinel: its TLS and credentials, a short connect timeout, reconnecting with backoff */
  private clientOf(s: SentinelAddress): SentinelClient {
    const { tls, auth } = this.o;
    return createClient({
      socket: {
        host: s.host,
        port: s.port,
        connectTimeout: this.deadlineMs,
        reconnectStrategy: (n: number) => Math.min(100 * 2 ** Math.min(n, 4), 1000),
        ...(tls ? { tls: true as const, ...tls } : {}),
      },
      ...(auth ? { ...(auth.username ? { username: auth.username } : {}), password: auth.password } : {}),
      disableOfflineQueue: true,
    }) as SentinelClient;
  }

  /** one command to one Sentinel, on its own connection; one that is not connected is skipped at once after its first try */
  private async askOne(s: SentinelAddress, args: string[]): Promise<unknown> {
    let l = this.askers.get(s);
    if (!l) {
      l = new Link({
        make: () => this.clientOf(s),
        deadlineMs: this.deadlineMs,
        pingEveryMs: 5000,
        onError: (message) => {
          this.lastError = `sentinel ${s.host}:${s.port}: ${message}`;
          this.linkErrors.set(s, message);
        },
      });
      this.askers.set(s, l);
      await Promise.race([l.connected, new Promise((r) => setTimeout(r, this.deadlineMs).unref())]);
    }
    // why it is not connected: a refused password (WRONGPASS, NOAUTH) says more than "not connected"
    if (!l.isReady) throw new Error(`not connected${this.linkErrors.has(s) ? ` (${this.linkErrors.get(s)})` : ''}`);
    return l.call((c) => c.sendCommand(args));
  }

  /** +switch-master "<name> <old ip> <old port> <new ip> <new port>" from this Sentinel */
  private subscribe(s: SentinelAddress): void {
    const c = this.clientOf(s);
    c.on('error', (err: Error) => (this.lastError = `sentinel ${s.host}:${s.port}: ${err.message}`));
    this.subscribers.push(c);
    c.connect()
      .then(() =>
        c.subscribe('+switch-master', (message: string) => {
          const [name, , , host, port] = message.split(' ');
          if (name === this.o.masterName && host && port) this.learn({ host, port: Number(port) });
        }),
      )
      .catch(() => undefined); // the poll covers a Sentinel that is away
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    for (const l of this.askers.values()) l.close();
    for (const c of this.subscribers) {
      try {
        c.destroy();
      } catch {
        /* already closed */
      }
    }
  }
}

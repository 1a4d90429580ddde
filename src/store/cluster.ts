/**
 * Redis Cluster: finding out that `--redis` names one, and a connection to it with the same
 * surface as link.ts's Link (a deadline on every call), on node-redis's cluster client.
 *
 * The cluster client routes a command by its first key (a script's KEYS[1], the shard base) and
 * follows MOVED and ASK itself. It learns a new layout only from those redirections, so after a
 * master dies (no answer, hence no MOVED) the client is made anew, throttled, from the seed nodes
 * and every node it knew: the promoted replica answers for the slots then. Errors a Cluster sends
 * while it cannot serve a slot (CLUSTERDOWN, TRYAGAIN, MASTERDOWN) are the store's
 * unavailability, a 503, like a connection that is gone.
 */
import { createClient, createCluster, ErrorReply } from 'redis';
import { errorMessage } from '../core/errors';
import type { Client } from './link';
import { LinkDownError } from './link';
import { urlAt } from './sentinel';

export type Cluster = ReturnType<typeof createCluster>;

/** the seed URLs of a `--redis` value: one URL, or several separated by commas */
export function seedUrls(redis: string): string[] {
  return redis
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * whether the Redis at the seeds is a Cluster (`INFO cluster`: cluster_enabled:1); several seeds
 * always are. null: no seed answered (the role starts on the plain client and waits, as it always did).
 */
export async function detectCluster(redis: string, tls?: Record<string, unknown>): Promise<boolean | null> {
  const seeds = seedUrls(redis);
  if (seeds.length > 1) return true;
  const c = createClient({
    url: seeds[0],
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: false, ...(tls ?? {}) },
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const info = String(await c.sendCommand(['INFO', 'cluster']));
    return /cluster_enabled:1/.test(info);
  } catch {
    return null;
  } finally {
    try {
      c.destroy();
    } catch {
      /* closed */
    }
  }
}

/** the key a command routes by (undefined: any node) */
export function firstKeyOf(args: readonly (string | Buffer)[]): string | undefined {
  const at = (i: number) => (args[i] === undefined ? undefined : String(args[i]));
  const c = at(0)!.toUpperCase();
  if (c === 'EVAL' || c === 'EVALSHA' || c === 'FCALL') return Number(at(2)) > 0 ? at(3) : undefined;
  if (c === 'XREAD') return at(args.findIndex((a) => typeof a === 'string' && a.toUpperCase() === 'STREAMS') + 1);
  if (c === 'PING' || c === 'INFO' || c === 'TIME' || c === 'SCRIPT' || c === 'FUNCTION' || c === 'CLUSTER')
    return undefined;
  return at(1);
}

/** an answer of a Cluster that cannot serve the slot now (a failover, a resharding in progress) */
export function clusterUnavailable(err: unknown): boolean {
  return err instanceof ErrorReply && /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|MOVED|ASK)/.test(err.message);
}

/** TRYAGAIN: a command of several keys (every script: see scripts.ts) while its slot is being moved; nothing of it ran */
export function slotMoving(err: unknown): boolean {
  return err instanceof ErrorReply && err.message.startsWith('TRYAGAIN');
}

export interface ClusterLinkOptions {
  seeds: string[];
  tls?: Record<string, unknown>;
  deadlineMs: number;
  onError: (message: string) => void;
  /** connect only to the nodes asked (a blocking connection for one shard) */
  minimize?: boolean;
}

const REMAKE_EVERY_MS = 1000;

export class ClusterLink {
  cluster: Cluster;
  connected: Promise<void>;
  private up = false;
  private closed = false;
  private remadeAt = 0;
  /** every node address the cluster showed (host:port): seeds for a client made anew */
  private readonly known = new Set<string>();

  constructor(private readonly o: ClusterLinkOptions) {
    this.cluster = this.open();
    this.connected = this.start(this.cluster);
  }

  get isReady(): boolean {
    return this.up && this.cluster.isOpen;
  }

  private open(): Cluster {
    const first = new URL(this.o.seeds[0]);
    const roots = [
      ...this.o.seeds.map((url) => ({ url })),
      ...[...this.known].map((a) => ({ url: `${first.protocol}//${a}` })),
    ];
    const c = createCluster({
      rootNodes: roots,
      minimizeConnections: this.o.minimize ?? false,
      defaults: {
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        disableOfflineQueue: true,
        // a node's connection that drops is not retried on its own: the node may be gone for
        // good (a failover), and the client made anew (remake) asks the cluster where slots are
        socket: { ...(this.o.tls ?? {}), connectTimeout: 2000, reconnectStrategy: false },
      },
    });
    c.on('error', (err: Error) => this.o.onError(err.message || err.constructor.name));
    return c;
  }

  private async start(c: Cluster): Promise<void> {
    while (!this.closed && c === this.cluster) {
      try {
        await c.connect();
        this.up = true;
        this.remember();
        return;
      } catch (e) {
        this.o.onError(errorMessage(e));
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
  }

  private remember(): void {
    for (const m of this.cluster.masters) {
      this.known.add(`${m.host}:${m.port}`);
    }
    for (const r of this.cluster.replicas) this.known.add(`${r.host}:${r.port}`);
  }

  /** the cluster lost a node or moved slots: a new client learns the layout from every node known */
  remake(why: string): void {
    if (this.closed || Date.now() - this.remadeAt < REMAKE_EVERY_MS) return;
    this.remadeAt = Date.now();
    this.o.onError(why);
    const old = this.cluster;
    this.up = false;
    this.cluster = this.open();
    try {
      old.destroy();
    } catch {
      /* closed */
    }
    this.connected = this.start(this.cluster);
  }

  /**
   * fn's answer, or LinkDownError after deadlineMs; fn's client sends by the command's first key.
   * A TRYAGAIN (the command's slot is half moved: README "Resharding while roles run") is sent
   * again until the slot is settled: Redis ran nothing of it. Near the deadline it is answered
   * as it is (a 503, safe to retry) rather than as a silence, which would leave it unknown.
   */
  async call<T>(fn: (c: Client) => Promise<T>, deadlineMs = this.o.deadlineMs): Promise<T> {
    const cluster = this.cluster;
    const giveUpAt = Date.now() + deadlineMs * 0.8;
    const send = async (args: (string | Buffer)[]): Promise<unknown> => {
      for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
        try {
          return await cluster.sendCommand(firstKeyOf(args), false, args);
        } catch (err) {
          if (!slotMoving(err) || Date.now() + wait > giveUpAt) throw err;
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    };
    const routed = { sendCommand: send } as unknown as Client;
    let timer: NodeJS.Timeout | undefined;
    try {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LinkDownError(`no answer within ${deadlineMs} ms`)), deadlineMs);
      });
      return await Promise.race([fn(routed), expired]);
    } catch (err) {
      if (!(err instanceof ErrorReply) || (clusterUnavailable(err) && !slotMoving(err))) this.remake(errorMessage(err));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `INFO <section>` of every master (host:port and its answer), each within the deadline */
  async masterInfos(section: string): Promise<{ node: string; text: string }[]> {
    const cluster = this.cluster;
    return Promise.all(
      cluster.masters.map(async (m) => ({
        node: `${m.host}:${m.port}`,
        text: await this.call(async () => String(await (await cluster.nodeClient(m)).sendCommand(['INFO', section]))),
      })),
    );
  }

  /** a command of no key (FUNCTION LOAD) sent to the master of `key`'s slot, within the deadline */
  sendAt<T>(key: string, args: string[]): Promise<T> {
    const cluster = this.cluster;
    return this.call(() => cluster.sendCommand(key, false, args) as Promise<T>);
  }

  /** a command sent to every master, each within the deadline: their answers, or why each failed */
  everyMaster(args: string[]): Promise<PromiseSettledResult<unknown>[]> {
    const cluster = this.cluster;
    return Promise.allSettled(
      cluster.masters.map((m) => this.call(async () => (await cluster.nodeClient(m)).sendCommand(args))),
    );
  }

  /** the URL of the master that holds `slot` now (the seeds' scheme and credentials at its address) */
  masterUrlOf(slot: number): string | null {
    const m = this.cluster.slots[slot]?.master;
    return m ? urlAt(this.o.seeds[0], { host: m.host, port: m.port }) : null;
  }

  /** host:port of every master now */
  masterAddresses(): string[] {
    return this.cluster.masters.map((m) => `${m.host}:${m.port}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.cluster.destroy();
    } catch {
      /* gone */
    }
  }
}

/**
 * One connection to Redis whose every call has a deadline that holds after the call was written.
 *
 * node-redis drops a command's timeout once the command is on the socket, so while packets
 * vanish (a partition) a call would wait as long as the network is cut. Here every call races a
 * timer; when it fires the call fails and the connection is suspect: the client is destroyed
 * (failing what else was in flight on it at once) and a new one connects in the background. An
 * idle connection is checked with a PING that has the same deadline, and a connection whose
 * handshake gets no answer is replaced the same way, so a cut is seen within about a deadline
 * whether or not anything was being asked.
 */
import type { createClient } from 'redis';
import { errorMessage } from '../core/errors';

export type Client = ReturnType<typeof createClient>;

/** a call got no answer in time, or its connection was replaced while it waited */
export class LinkDownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkDownError';
  }
}

export interface LinkOptions {
  /** a new client, not yet connected (listeners for 'error' are added here) */
  make: () => Client;
  /** a call (or a PING, or a handshake) that gets no answer in this time fails (ms) */
  deadlineMs: number;
  /** an idle connection is PINGed this often (ms) */
  pingEveryMs: number;
  /** told every error the connection reports, for messages */
  onError: (message: string) => void;
  /** told each time the connection is found dead and replaced */
  onReplaced?: (why: string) => void;
}

export class Link {
  client: Client;
  private inflight = 0;
  private lastAnswer = Date.now();
  /** when the socket connected and its handshake began (null: not in a handshake) */
  private handshakeSince: number | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** the client's first connect, resolved when ready or failed */
  connected: Promise<void>;

  constructor(private readonly o: LinkOptions) {
    this.client = this.open();
    this.connected = this.start(this.client);
    this.timer = setInterval(() => this.check(), Math.max(50, Math.min(o.pingEveryMs, o.deadlineMs / 2)));
    this.timer.unref();
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  private open(): Client {
    const c = this.o.make();
    c.on('error', (err: Error) => {
      if (c === this.client) this.handshakeSince = null;
      this.o.onError(err.message || err.constructor.name);
    });
    c.on('connect', () => {
      if (c === this.client) this.handshakeSince = Date.now();
    });
    c.on('ready', () => {
      if (c !== this.client) return;
      this.handshakeSince = null;
      this.lastAnswer = Date.now();
    });
    return c;
  }

  private start(c: Client): Promise<void> {
    return c.connect().then(
      () => undefined,
      (e: unknown) => this.o.onError(errorMessage(e)),
    );
  }

  /**
   * fn's answer, or LinkDownError once deadlineMs pass (the connection is then replaced). fn gets
   * the client as it is now, or `pinned`: calls that belong together (a WATCH and its EXEC) pin
   * the client of the first, so a connection replaced between them fails the rest instead of
   * running them on the new connection (a WATCH belongs to the connection that sent it).
   */
  async call<T>(fn: (c: Client) => Promise<T>, deadlineMs = this.o.deadlineMs, pinned?: Client): Promise<T> {
    const c = pinned ?? this.client;
    if (c !== this.client) throw new LinkDownError('the connection was replaced');
    let timer: NodeJS.Timeout | undefined;
    this.inflight++;
    try {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const why = `no answer within ${deadlineMs} ms`;
          reject(new LinkDownError(why));
          this.replace(c, why);
        }, deadlineMs);
      });
      const answer = await Promise.race([fn(c), expired]);
      this.lastAnswer = Date.now();
      return answer;
    } finally {
      clearTimeout(timer);
      this.inflight--;
    }
  }

  /** the connection does not answer: destroy it (its calls fail now) and connect a new one */
  replace(suspect: Client, why: string): void {
    if (this.closed || suspect !== this.client) return;
    this.o.onError(why);
    this.o.onReplaced?.(why);
    this.handshakeSince = null;
    this.client = this.open();
    try {
      suspect.destroy();
    } catch {
      /* already closed */
    }
    this.connected = this.start(this.client);
  }

  /** the watchdog: a handshake that hangs, an idle connection that no longer answers a PING */
  private check(): void {
    const c = this.client;
    const now = Date.now();
    if (this.handshakeSince !== null && now - this.handshakeSince > this.o.deadlineMs) {
      this.replace(c, `no answer to the handshake within ${this.o.deadlineMs} ms`);
      return;
    }
    if (!c.isReady || this.inflight > 0 || now - this.lastAnswer < this.o.pingEveryMs) return;
    this.call((cl) => cl.sendCommand(['PING'])).catch(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      if (this.client.isOpen) this.client.destroy();
    } catch {
      /* already gone */
    }
  }
}

/**
 * Claims whose answer was lost: the call was sent, no answer came before its deadline (a
 * partition, a connection dropped), so Redis may have run it, now or when the network heals, and
 * hold jobs under this consumer's name with tokens it never saw. Left alone their leases would
 * lapse and the reaper would count an attempt on a worker that was alive all along; instead each
 * such claim's token base is kept here and its jobs are given back (releaseLostClaim.lua: to the
 * head of the queue, the attempt not counted) once Redis answers again, for as long as a claim
 * sent before the cut could still arrive (a lease's length after Redis first answers again).
 */
interface Lost {
  queue: string;
  tokenBase: string;
  /** how long to keep looking once Redis answers (ms) */
  keepMs: number;
  /** when Redis first answered a look for it (null: not yet) */
  answeredAt: number | null;
}

/** at most this many lost claims are remembered (the oldest is dropped) */
const MAX_LOST = 256;

export class LostClaims {
  private readonly lost: Lost[] = [];
  private timer: NodeJS.Timeout | null = null;
  private settling: Promise<void> | null = null;

  constructor(
    /** give back the jobs the claim with this token base holds; answers how many */
    private readonly release: (queue: string, tokenBase: string) => Promise<number>,
    private readonly everyMs = 1000,
  ) {}

  get size(): number {
    return this.lost.length;
  }

  /** the token bases of the lost claims on `queue` still looked for: their jobs are this process's (a reaper must not take them) */
  bases(queue: string): string[] {
    return this.lost.filter((l) => l.queue === queue).map((l) => l.tokenBase);
  }

  add(queue: string, tokenBase: string, keepMs: number): void {
    this.lost.push({ queue, tokenBase, keepMs, answeredAt: null });
    if (this.lost.length > MAX_LOST) this.lost.shift();
    if (!this.timer) {
      this.timer = setInterval(() => void this.settle(), this.everyMs);
      this.timer.unref();
    }
  }

  /** look for each lost claim's jobs once (one look at a time) */
  settle(): Promise<void> {
    this.settling ??= this.lookOnce().finally(() => (this.settling = null));
    return this.settling;
  }

  private async lookOnce(): Promise<void> {
    for (const l of [...this.lost]) {
      let released: number;
      try {
        released = await this.release(l.queue, l.tokenBase);
      } catch {
        return; // Redis does not answer yet: the next tick looks again
      }
      const now = Date.now();
      l.answeredAt ??= now;
      if (released > 0 || now - l.answeredAt >= l.keepMs) this.lost.splice(this.lost.indexOf(l), 1);
    }
    if (this.lost.length === 0) this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stop();
    this.lost.length = 0;
  }
}

/**
 * One reader of the store's event log per API process, fanning events out to the watchers of
 * each job (SSE). It reads from a position (XREAD BLOCK from the last id): a watcher that
 * subscribes before it reads the job's snapshot misses nothing in between.
 */
import type { JobEvent, Store } from '../../store/types';
import type { Logger } from '../../util/log';
import { retryDelay, sleep } from '../../util/time';

type Listener = (e: JobEvent) => void;

export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private cursor: string | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly blockMs = 1000,
  ) {}

  /** listen for a job's events from now on; resolves once the position is fixed */
  async subscribe(jobId: string, fn: Listener): Promise<() => void> {
    if (this.cursor === null) this.cursor = await this.store.events.lastId();
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(fn);
    this.running ??= this.loop().finally(() => (this.running = null));
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.listeners.delete(jobId);
    };
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed && this.listeners.size > 0) {
      try {
        const events = await this.store.events.read(this.cursor ?? '0', this.blockMs, 1000);
        failures = 0;
        for (const e of events) {
          this.cursor = e.id;
          this.listeners.get(e.jobId)?.forEach((fn) => fn(e));
        }
      } catch (err) {
        if (failures++ === 0) this.log.warn('event reader: store unavailable, retrying', { error: String(err) });
        await sleep(retryDelay(failures));
      }
    }
    // nobody listens: forget the position, so the next watcher starts from "now"
    if (this.listeners.size === 0) this.cursor = null;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * Completions gathered to go to the store together, in one call: the one batcher of
 * acknowledgements. the Redis store's jobs.complete sends what one event-loop turn gathered (one
 * completeJobs call per shard); a worker's lane sends what its handlers finished with its next
 * completeAndClaim call. Either way a completion is settled only with the answer of the call
 * that carried it: an ack is never reported done before the store answered.
 */
import type { Completion } from './types';

/** how a completion ended: recorded (error null) or refused; `resent`: a call whose answer was lost carried it before, so it may be recorded already */
export interface CompletionOutcome {
  error: Error | null;
  resent: boolean;
}

export interface PendingCompletion extends Completion {
  resent: boolean;
  settle(error: Error | null): void;
}

/** one per completion: a class, not a copy of the completion with a closure (a worker makes one per job) */
class Pending implements PendingCompletion {
  readonly jobId: string;
  readonly token: string;
  readonly result: unknown;
  readonly job?: Completion['job'];
  resent = false;

  constructor(
    c: Completion,
    private readonly resolve: (outcome: CompletionOutcome) => void,
  ) {
    this.jobId = c.jobId;
    this.token = c.token;
    this.result = c.result;
    this.job = c.job;
  }

  settle(error: Error | null): void {
    this.resolve({ error, resent: this.resent });
  }
}

export class CompletionBatch {
  private pending: PendingCompletion[] = [];

  /** `onFirst`: called when a completion joins an empty batch (RedisStore: send it at the end of this turn) */
  constructor(private readonly onFirst?: () => void) {}

  get size(): number {
    return this.pending.length;
  }

  /** a completion for the next call; resolves with its outcome once that call answered */
  add(c: Completion): Promise<CompletionOutcome> {
    return new Promise((resolve) => {
      this.pending.push(new Pending(c, resolve));
      if (this.pending.length === 1) this.onFirst?.();
    });
  }

  /** everything gathered, for one call */
  take(): PendingCompletion[] {
    return this.pending.splice(0);
  }

  /** a call that carried them got no answer (the store was away): first in the next call; maybeApplied: they may be recorded already */
  putBack(taken: PendingCompletion[], maybeApplied: boolean): void {
    for (const p of taken) p.resent ||= maybeApplied;
    this.pending.unshift(...taken);
  }
}

/** the call that carried them answered: each its own outcome (errors[i] for taken[i]), or `error` for all */
export function settleAll(taken: readonly PendingCompletion[], errors: readonly (Error | null)[] | Error): void {
  taken.forEach((p, i) => p.settle(errors instanceof Error ? errors : (errors[i] ?? null)));
}

/**
 * Queues are declared, never made by a request, and the server decides which queue a job of
 * each type goes to (docs/security.md, "Queues and job types").
 *
 * Declared queues: `default`, the bot queue (--bot-queue), each --handlers type's own queue, the
 * API's --queues (WIZARD_QUEUES), and, cluster-wide in the store, a worker's --queue (it declares
 * it when it starts), a queue an admin declares (POST /queues, `wizard queue add`) or pauses.
 * An API node writes its own declared queues to the store when it starts, so every node knows them.
 *
 * Where a job goes:
 * - a type with a queue of its own goes there and nowhere else: sim to the bot queue, a
 *   --handlers type with `queue` to that queue;
 * - any other type (task, primes, a --handlers type without `queue`) goes to the queue the request
 *   names, `default` when it names none; that queue must be declared, and it is never one bots
 *   claim from (the bot queue, a --handlers type's with no run: botClaimedQueues): bots take only
 *   the work bots do, never math tasks or prime chunks, whose results a bot could forge.
 * A request that names another queue is a 400 naming `queue`.
 */
import { DEFAULT_BOT_QUEUE } from '../../core/batch';
import { ValidationError } from '../../core/errors';
import { DEFAULT_QUEUE } from '../../core/job';
import { execBotQueues, specFor, userTypes } from '../../core/handlers';
import type { Store } from '../../store/types';

/** what the queue rules read of the API's context */
interface QueueSettings {
  store: Store;
  botWork?: { botQueue: string };
  /** --queues: more queues this node declares */
  queues?: string[];
}

const botQueueOf = (ctx: QueueSettings): string => ctx.botWork?.botQueue ?? DEFAULT_BOT_QUEUE;

/** the queues this node declares by itself: default, the bot queue, the --handlers types' queues, --queues */
export function ownQueues(ctx: QueueSettings): string[] {
  const typeQueues = userTypes().flatMap(([, t]) => (t.queue ? [t.queue] : []));
  return [...new Set([DEFAULT_QUEUE, botQueueOf(ctx), ...typeQueues, ...(ctx.queues ?? [])])].sort();
}

/** is this queue declared: by this node, or in the store (any node, a worker, an admin)? */
export async function isDeclared(ctx: QueueSettings, queue: string): Promise<boolean> {
  return ownQueues(ctx).includes(queue) || ctx.store.queues.isKnown(queue);
}

const queueError = (message: string, detail = message) =>
  new ValidationError(message, [{ field: 'queue', message: detail }]);

/** the queues bots claim from: the bot queue, and each queue of a --handlers type with no run (bots with --exec) */
export const botClaimedQueues = (ctx: QueueSettings): string[] => [botQueueOf(ctx), ...execBotQueues()];

/** the queue a new job of `type` goes to, given the queue its request names (or none); a 400 naming `queue` when it may not go there */
export async function queueFor(ctx: QueueSettings, type: string, requested: string | undefined): Promise<string> {
  const user = specFor(type)?.user;
  const own = type === 'sim' ? botQueueOf(ctx) : user?.queue;
  if (own !== undefined) {
    if (requested === undefined || requested === own) return own;
    if (user && user.run === undefined) {
      throw queueError(
        `queue: type ${type} has no run: its jobs go to its queue '${own}', where bots with --exec claim them, not '${requested}'`,
        `must be '${own}' (the type's)`,
      );
    }
    throw queueError(
      `jobs of type ${type} go to the queue '${own}' only, not '${requested}'`,
      `must be '${own}' (the type's)`,
    );
  }
  if (requested === undefined) return DEFAULT_QUEUE;
  if (botClaimedQueues(ctx).includes(requested)) {
    throw queueError(
      `bots claim from the queue '${requested}': it takes only the types bots run (sim, or a --handlers type whose queue it is), not ${type}`,
    );
  }
  if (!(await isDeclared(ctx, requested))) {
    throw queueError(
      `queue '${requested}' is not declared: declare it with POST /queues (an admin), wizard api --queues, or a worker's --queue`,
    );
  }
  return requested;
}

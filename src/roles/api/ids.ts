/**
 * The ids in a route's path, read through these: a job id or a bot id of a shape wizard never
 * makes names nothing, so it is a 404 and never reaches the store (src/core/ids.ts says why).
 * Each route reads its id after its own guards (the admin or bot token), so a caller without the
 * right token learns nothing from the answer to a malformed id.
 */
import type { Request } from 'express';
import { NotFoundError } from '../../core/errors';
import { isBotId, isJobId, JOB_ID_SHAPE } from '../../core/ids';

/** the path's `:id`, a job's (`what`: "job", "task"); any other shape is a 404 */
export function pathJobId(req: Request, what = 'job'): string {
  const id = String(req.params.id);
  if (!isJobId(id)) throw new NotFoundError(`${what} ${id} not found: a job id is ${JOB_ID_SHAPE}`);
  return id;
}

/** the path's `:id`, a bot's; any other shape is a 404 */
export function pathBotId(req: Request): string {
  const id = String(req.params.id);
  if (!isBotId(id)) throw new NotFoundError(`bot ${id} not found: a bot id is bot-<UUID>`);
  return id;
}

/** The scripts' answer codes for a job (and a bot's job) as the typed errors the store throws. */
import { ConflictError, JobCancelledError, LeaseLostError, NotFoundError } from '../../core/errors';
import { badChunkResult, botErrors } from '../common';
import { OK, MISSING, TOKEN_MISMATCH, BAD_RESULT, CONFLICT, NOT_HOLDER, BOT_MISSING, CANCELLED } from './shared';

/** a script's answer code for a job as an error, or null for OK */
export function codeError(code: unknown, jobId: string): Error | null {
  if (code === OK) return null;
  if (code === MISSING) return new NotFoundError(`job ${jobId} not found`);
  if (code === TOKEN_MISMATCH) return new LeaseLostError(jobId);
  if (code === CANCELLED) return new JobCancelledError(jobId);
  if (code === CONFLICT)
    return new ConflictError(`job ${jobId} is not in the dead-letter queue, or its parent job has finished`);
  if (code === BAD_RESULT) return badChunkResult(jobId);
  return new Error(`unexpected script reply ${String(code)} for job ${jobId}`);
}

export function checkCode(code: unknown, jobId: string): void {
  const err = codeError(code, jobId);
  if (err) throw err;
}

/** the codes of a bot's transitions (lib.lua's botToken), then the common ones */
export function checkBotCode(code: unknown, botId: string, jobId: string): void {
  if (code === NOT_HOLDER) throw botErrors.notHolder(botId, jobId);
  if (code === BOT_MISSING) throw botErrors.unknown(botId);
  checkCode(code, jobId);
}

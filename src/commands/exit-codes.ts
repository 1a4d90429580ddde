/** The CLI's exit codes: 0 done, 1 a job failed (or anything unforeseen), 2 bad usage, 3 unreachable. */
import { WizardError } from '../core/errors';

export const EXIT_CODE = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof WizardError) {
    if (err.code === 'usage' || err.code === 'validation_failed') return EXIT_CODE.usage;
    if (err.code === 'unreachable' || err.code === 'store_unavailable') return EXIT_CODE.unreachable;
  }
  return EXIT_CODE.failed;
}

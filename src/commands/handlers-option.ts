/**
 * --handlers <file> (WIZARD_HANDLERS) for worker, api and up (and the scheduler, so a schedule's
 * jobs of a module's type get its attempts): a module of job types (src/core/user-types.ts). One
 * factory, so the roles share the flag and its loading.
 */
import { Option } from 'commander';

export const handlersOption = () =>
  new Option('--handlers <file>', 'a JavaScript module (ESM or CommonJS) whose default export defines job types: { name: { params, run, cpu?, attempts?, backoff_ms?, timeout_ms?, queue? } }').env('WIZARD_HANDLERS');

/** load the module named by --handlers (when given) into the registry; a bad one is a UsageError (exit 2) */
export async function loadHandlersFlag(flags: { handlers?: string }): Promise<void> {
  if (flags.handlers === undefined) return;
  const { loadHandlers } = await import('../core/user-types');
  await loadHandlers(flags.handlers);
}

/**
 * --handlers <file> (WIZARD_HANDLERS) for worker, api and up (and the scheduler, so a schedule's
 * jobs of a module's type get its attempts): a module of job types (src/core/user-types.ts). One
 * factory, so the roles share the flag and its loading.
 */
import { Option } from 'commander';

export const handlersOption = () =>
  new Option(
    '--handlers <file>',
    'a JavaScript module (ESM or CommonJS) whose default export defines job types: { name: { params, run, cpu?, attempts?, backoff_ms?, timeout_ms?, queue? } }',
  ).env('WIZARD_HANDLERS');

/**
 * load the module named by --handlers (when given) into the registry; a bad one is a UsageError
 * (exit 2), and so is a type on the bot queue (`botQueue`: the roles that know it, api,
 * scheduler and up). The role says which types it loaded once it joins its store (roleStore).
 */
export async function loadHandlersFlag(flags: { handlers?: string; botQueue?: string }): Promise<void> {
  if (flags.handlers === undefined) return;
  const { checkBotQueue, loadHandlers } = await import('../core/user-types');
  await loadHandlers(flags.handlers);
  if (flags.botQueue !== undefined) checkBotQueue(flags.botQueue);
}

/**
 * Loading a --handlers module: import() as Node does it (ESM or CommonJS), not as the CommonJS
 * build would rewrite it (require, which cannot load ESM). Used by the role that checks the
 * module (user-types.ts) and by each CPU pool thread (pool-thread.ts), which loads it again.
 */
import { pathToFileURL } from 'node:url';

// kept out of the compiler's sight, so it stays a real import()
const dynamicImport = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

/** a module's namespace, by its absolute path */
export function importFile(absPath: string): Promise<Record<string, unknown>> {
  return dynamicImport(pathToFileURL(absPath).href);
}

/** the table a module exports: its default export (ESM, or module.exports for CommonJS) */
export function exportedTable(mod: Record<string, unknown>): unknown {
  const table: unknown = mod.default ?? mod;
  // CommonJS compiled from ESM: module.exports = { __esModule: true, default: {...} }
  const compiled =
    typeof table === 'object' && table !== null && (table as { __esModule?: unknown }).__esModule === true;
  return compiled ? (table as { default?: unknown }).default : table;
}

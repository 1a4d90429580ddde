/** The flat methods Store answers besides its parts, each its part's method (concerns.ts FLAT), for the callers not moved to the parts yet. */
import { FLAT, StoreParts } from './concerns';

/** give `store` every flat method of FLAT, bound to its part */
export function flatten(store: StoreParts): void {
  for (const [name, [part, method]] of Object.entries(FLAT)) {
    const owner = store[part] as unknown as Record<string, unknown>;
    const fn = owner[method];
    if (typeof fn !== 'function') continue; // an optional one the adapter leaves out (countClients)
    Object.defineProperty(store, name, { value: fn.bind(owner), configurable: true, writable: true });
  }
}

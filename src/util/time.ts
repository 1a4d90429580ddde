export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * the promise's value, or undefined once ms pass; the timer is cleared either way, so a process
 * (or a test) is not kept alive by it after the promise settles
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** capped exponential backoff for reconnect loops: 100 ms, 200 ms, ... up to maxMs */
export function retryDelay(failures: number, maxMs = 2000): number {
  return Math.min(maxMs, 100 * 2 ** Math.min(failures, 10));
}

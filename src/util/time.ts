/** wait ms; with a signal, an abort ends the wait at once, rejected with the signal's reason */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((r) => setTimeout(r, ms));
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

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

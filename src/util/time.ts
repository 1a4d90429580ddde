export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** capped exponential backoff for reconnect loops: 100 ms, 200 ms, ... up to maxMs */
export function retryDelay(failures: number, maxMs = 2000): number {
  return Math.min(maxMs, 100 * 2 ** Math.min(failures, 10));
}

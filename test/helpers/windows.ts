/** Rate limits in tests: how many starts the busiest window held. */

/** the most starts in any window of `ms` (a window from each start on) */
export const busiestWindow = (starts: number[], ms: number): number => {
  const s = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i] - s[j] >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
};

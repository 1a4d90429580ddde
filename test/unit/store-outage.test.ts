/** A role's word on its store: an outage is one line when it begins and one when it ends, whatever the loops do meanwhile. */
import { StoreOutOfMemoryError, StoreUnavailableError, UnreachableError } from '../../src/core/errors';
import { storeOutage } from '../../src/roles/store-outage';
import type { Logger } from '../../src/util/log';

function recordingLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m, f) => lines.push(`warn ${m} ${String(f?.reason)}`),
    error: (m) => lines.push(`error ${m}`),
    child: () => log,
    enabled: () => true,
  };
  return { log, lines };
}

test('many failures of many loops are one "lost the store", many successes one "store is back"', () => {
  const { log, lines } = recordingLog();
  const outage = storeOutage(log, 'redis://127.0.0.1:1');
  for (let i = 0; i < 10; i++)
    expect(outage.failed(new StoreUnavailableError('no answer within 2500 ms', true))).toBe(true);
  expect(outage.condition).toBe('unavailable');
  for (let i = 0; i < 5; i++) outage.ok();
  expect(outage.condition).toBeNull();
  expect(lines).toEqual([
    'warn lost the store: backing off until it is back unavailable',
    'info store is back: resuming',
  ]);
});

test('an error that is not a store condition is left to the caller; a 503 from the API names the condition', () => {
  const { log, lines } = recordingLog();
  const outage = storeOutage(log, 'http://127.0.0.1:1');
  expect(outage.failed(new Error('a bug'))).toBe(false);
  expect(outage.failed(new UnreachableError('cannot reach the API'))).toBe(false); // the API itself is away
  outage.ok();
  expect(lines).toEqual([]);
  expect(outage.failed(new UnreachableError('the API cannot serve', 'out of memory'))).toBe(true);
  expect(outage.failed(new StoreOutOfMemoryError('refuses writes'))).toBe(true);
  expect(lines).toEqual(['warn lost the store: backing off until it is back out of memory']);
});

/**
 * Input fuzzing of the routes of seeds 000-003 (test/helpers/fuzz.ts says what is sent and what
 * must come back), and the check that every route of the app has a fuzz spec in some file.
 */
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { listRoutes } from '../../src/roles/api/routes-list';
import { silentLogger } from '../../src/util/log';
import { fuzzRoutes } from '../helpers/fuzz';
import { BOT_SPECS, CORE_SPECS } from '../helpers/fuzz-specs';

test('every route of the app has a fuzz spec', () => {
  const app = createApp({ nodeId: 'x', log: silentLogger, startedAt: 0, metrics: createApiMetrics() } as never);
  const routes = listRoutes(app).map(([m, p]) => `${m} ${p}`);
  expect(routes.filter((r) => !CORE_SPECS[r] && !BOT_SPECS[r])).toEqual([]);
});

fuzzRoutes('fuzz', CORE_SPECS);

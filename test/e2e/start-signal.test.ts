/**
 * A role SIGTERMed as soon as it prints anything exits cleanly (code 0, not killed by the
 * signal): its shutdown handlers are installed before it prints or opens anything.
 */
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard } from '../helpers/procs';

afterAll(killAll);

const ROUNDS = 4;

/** each long-lived role, as it is started (ports 0: the system picks free ones) */
const ROLES: Record<string, string[]> = {
  api: ['api', '--port', '0'],
  worker: ['worker', '--threads', '1'],
  scheduler: ['scheduler'],
  bot: ['bot', '--api', 'http://127.0.0.1:9'], // no API there: it says so at once, and keeps trying
  up: ['up', '--port', '0', '--bots', '1', '--threads', '1'], // in memory
};

// the roles side by side: each round mostly waits for a process to start and to stop
test.concurrent.each(Object.keys(ROLES))(
  '%s SIGTERMed at its first byte of output exits 0, every time',
  async (role) => {
    const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix(`start-signal-${role}`) };
    const codes: Array<number | string> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const p = spawnWizard(ROLES[role], env, `${role}-${i}`);
      await p.waitForOutput(/./, 20_000);
      codes.push(await p.kill('SIGTERM'));
    }
    expect(codes).toEqual(Array(ROUNDS).fill(0));
  },
  120_000,
);

/** Seed 004's commands as people run them: help, and one-line usage errors naming the flag (exit 2). */
import { runWizard as run } from '../helpers/procs';

test('--help lists the scheduler, the bot and the client commands of seed 004', () => {
  const { code, stdout } = run(['--help']);
  expect(code).toBe(0);
  for (const cmd of ['scheduler', 'bot', 'jobs', 'bots', 'status', 'datalake'])
    expect(stdout).toMatch(new RegExp(`^  ${cmd} .*\\S`, 'm'));
  const scheduler = run(['scheduler', '--help-all']).stdout.replace(/\s+/g, ' ');
  for (const env of [
    'POPULATE_INTERVAL_MS',
    'BATCH_SIZE',
    'PROCESSING_DURATION_MS',
    'FAILURE_RATE',
    'BOT_DOWN_AFTER_MS',
    'WIZARD_DATALAKE',
  ])
    expect(scheduler).toContain(`env: ${env}`);
  expect(run(['bot', '--help']).stdout.replace(/\s+/g, ' ')).toContain('env: HEARTBEAT_INTERVAL_MS');
  expect(run(['api', '--help']).stdout.replace(/\s+/g, ' ')).toContain('env: ADMIN_TOKEN');
});

test.each([
  [['scheduler', '--batch-size', '0'], {}, '--batch-size'],
  [['scheduler', '--populate-interval-ms', 'soon'], {}, '--populate-interval-ms'],
  [['scheduler', '--failure-rate', '1.5'], {}, '--failure-rate'],
  [['scheduler', '--job-type', 'primes'], {}, '--job-type'],
  [['scheduler', '--job-params', 'not json'], {}, '--job-params'],
  [['scheduler', '--job-params', '{"failure_rate":2}'], {}, '--job-params'],
  [['scheduler', '--job-type', 'task'], {}, '--job-params'],
  [['api', '--datalake', 'primes_chunk'], {}, '--datalake'],
  [['scheduler', '--datalake-retention-days', '0'], {}, '--datalake-retention-days'],
  [['bot', '--count', '0'], {}, '--count'],
  [['bot', '--heartbeat-interval-ms', '-5'], {}, '--heartbeat-interval-ms'],
  [['scheduler'], { BATCH_SIZE: 'many' }, "env 'BATCH_SIZE'"],
  [['jobs', '--limit', '0'], {}, '--limit'],
  [['datalake', 'export', '2026-02-30'], {}, '<date>'],
])('%j %j → exit 2 with one line naming %s', (args, env, flag) => {
  const { code, stderr, stdout } = run(args, env);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain(flag);
});

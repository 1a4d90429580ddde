/** `wizard healthcheck` finds the container's role on PID 1's command line. */
import { roleFromArgv } from '../../src/commands/healthcheck';

test.each([
  [['node', '/usr/local/bin/wizard', 'api'], { role: 'api', flags: {} }],
  [['node', '/usr/local/bin/wizard', 'api', '--port', '9000'], { role: 'api', flags: { port: '9000' } }],
  [
    ['node', '/usr/local/bin/wizard', 'worker', '--redis=redis://valkey:6379', '--concurrency', '8'],
    { role: 'worker', flags: { redis: 'redis://valkey:6379' } },
  ],
  [
    ['node', '/usr/local/bin/wizard', 'scheduler', '--prefix', 'blue', '--redis', 'redis://v:6379'],
    { role: 'scheduler', flags: { prefix: 'blue', redis: 'redis://v:6379' } },
  ],
  [
    ['node', '/usr/local/bin/wizard', 'bot', '--api', 'http://gateway'],
    { role: 'bot', flags: { api: 'http://gateway' } },
  ],
  [['node', '/usr/local/bin/wizard', 'submit', 'task'], null],
  [['/sbin/init'], null],
])('%j → %j', (argv, expected) => {
  expect(roleFromArgv(argv)).toEqual(expected);
});

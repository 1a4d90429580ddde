/**
 * Issue #24, item 7, with real processes: an ADMIN_TOKEN shorter than an API token is refused
 * (exit 2, without quoting it); a token given as a flag is warned about (ps shows it); a bot
 * named with escape codes (OSC, CSI, CR, C1) shows them escaped in `wizard bots` and in every log
 * line, never raw; connections past --max-connections are closed at once while the node keeps
 * serving the ones it has.
 */
import net from 'node:net';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

/** a name that sets the terminal's title, rings, clears the screen, returns to the line's start and sends a C1 CSI */
const HOSTILE = 'evil\u001b]0;pwned\u0007\u001b[2J\rok\u009b31m';
const SHOWN = 'evil\\x1b]0;pwned\\x07\\x1b[2J\\rok\\x9b31m';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

async function openApi(name: string, env: Record<string, string> = {}, args: string[] = []) {
  const port = await freePort();
  const api = spawnWizard(
    ['api', '--port', String(port), ...args],
    { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix(name), ...env },
    `api-${name}`,
  );
  await api.waitForOutput(/api listening/, 60_000);
  return { api, url: `http://127.0.0.1:${port}` };
}

test('ADMIN_TOKEN (or --admin-token) shorter than 16 characters is exit 2 with one line naming both, and not the value; an empty one is unset', async () => {
  for (const [args, env] of [
    [['api'], { ADMIN_TOKEN: 'x' }],
    [['api', '--admin-token', 'short-secret'], {}],
    [['up', '--port', '0'], { ADMIN_TOKEN: 'fifteen-chars-x' }],
  ] as const) {
    const r = runWizard([...args], { REDIS_URL: 'redis://127.0.0.1:1', ...env });
    expect({ args, code: r.code, lines: r.stderr.trim().split('\n') }).toEqual({
      args,
      code: 2,
      lines: [
        expect.stringMatching(
          /^error: ADMIN_TOKEN \(--admin-token\) must be at least 16 characters, got \d+ \(try: openssl rand -hex 24\)$/,
        ),
      ],
    });
    expect(r.stderr).not.toMatch(/short-secret|fifteen-chars-x/);
  }
  // compose passes ADMIN_TOKEN=${ADMIN_TOKEN:-}: empty is no admin token, and the node serves
  const { api, url } = await openApi('admin-empty', { ADMIN_TOKEN: '' });
  expect(api.output()).toContain('"admin_token":"not set"');
  expect((await http<{ error: { code: string } }>('POST', `${url}/jobs/populate`, {})).body.error.code).toBe(
    'admin_token_not_configured',
  );
  await api.kill();
});

test('a token given as a flag is warned about on stderr (ps shows it), naming the variable to use; from the environment it is not', async () => {
  const { api, url } = await openApi('token-flag');
  const flagged = runWizard(['abacus', 'sum', '--api', url, '--token', 'client-token-0123456789', '--json']);
  expect({ code: flagged.code, stderr: flagged.stderr }).toEqual({
    code: 0,
    stderr:
      "warning: --token shows in ps to every user of this machine, and in the shell's history: set WIZARD_TOKEN instead\n",
  });
  expect(JSON.parse(flagged.stdout)).toMatchObject({ sum: expect.any(Number) }); // stdout is still the JSON alone
  const fromEnv = runWizard(['abacus', 'sum', '--api', url, '--json'], { WIZARD_TOKEN: 'client-token-0123456789' });
  expect({ code: fromEnv.code, stderr: fromEnv.stderr }).toEqual({ code: 0, stderr: '' });
  await api.kill();
  const withAdmin = await openApi('admin-flag', {}, ['--admin-token', 'admin-token-0123456789']);
  expect(withAdmin.api.output().split('\n')[0]).toBe(
    "warning: --admin-token shows in ps to every user of this machine, and in the shell's history: set ADMIN_TOKEN instead",
  );
  await withAdmin.api.kill();
}, 120_000);

test('a bot named with escape codes shows them escaped in `wizard bots` (table and --json) and in the log lines of the bot and the api', async () => {
  const { api, url } = await openApi('escapes', { LOG_LEVEL: 'debug' });
  const bot = spawnWizard(
    ['bot', '--name', HOSTILE, '--api', url, '--heartbeat-interval-ms', '200'],
    { LOG_LEVEL: 'debug' },
    'hostile-bot',
  );
  await bot.waitForOutput(/registered/);
  const listed = await waitUntil(
    async () => {
      const r = runWizard(['bots', '--api', url]);
      return r.stdout.includes(SHOWN) && r;
    },
    20_000,
    'the hostile bot in the table',
  );
  expect(listed.code).toBe(0);
  expect(listed.stdout).not.toMatch(RAW_CONTROL);
  const json = runWizard(['bots', '--api', url, '--json']);
  expect(json.stdout).not.toMatch(RAW_CONTROL);
  expect((JSON.parse(json.stdout) as { bots: { name: string }[] }).bots.map((b) => b.name)).toEqual([HOSTILE]);
  await bot.kill();
  for (const p of [bot, api]) {
    expect(p.output()).not.toMatch(RAW_CONTROL);
    for (const line of p.output().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  }
  expect(bot.output()).toContain('"node_id":"evil\\u001b]0;pwned\\u0007\\u001b[2J\\rok\\u009b31m"');
  await api.kill();
}, 120_000);

/** a raw keep-alive connection: send a request, read one response (null when the server closed it) */
function connection(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let buffered = '';
  let closed = false;
  const waiting: (() => void)[] = [];
  const wake = () => waiting.splice(0).forEach((w) => w());
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => ((buffered += d), wake()));
  socket.on('close', () => ((closed = true), wake()));
  socket.on('error', () => undefined); // a reset is a close here
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    connected,
    /** GET path on this connection: the status, or null when the server closed it first */
    async get(path: string): Promise<number | null> {
      buffered = '';
      if (!closed) socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      for (;;) {
        const head = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n/.exec(buffered);
        const length = head && /content-length: (\d+)/i.exec(head[0]);
        if (head && length && buffered.length >= head[0].length + Number(length[1])) return Number(head[1]);
        if (closed) return null;
        await new Promise<void>((r) => waiting.push(r));
      }
    },
    body: () => buffered,
    close: () => new Promise<void>((r) => (closed ? r() : (socket.once('close', () => r()), socket.end()))),
  };
}

test('past --max-connections (WIZARD_MAX_CONNECTIONS) a connection is closed at once, the node keeps serving the ones it has, and counts the refusal', async () => {
  const { api } = await openApi('max-conns', { WIZARD_MAX_CONNECTIONS: '3' });
  const port = Number(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(api.output())![1]);
  expect(api.output()).toContain('"max_connections":3');
  const held = [connection(port), connection(port), connection(port)];
  for (const c of held) expect(await c.get('/healthz')).toBe(200); // three open, kept alive
  const extra = connection(port);
  expect(await extra.get('/healthz')).toBeNull(); // closed before any answer
  // the three still answer, one after the other and at once
  expect(await Promise.all(held.map((c) => c.get('/whoami')))).toEqual([200, 200, 200]);
  expect(await held[0].get('/metrics')).toBe(200);
  expect(held[0].body()).toMatch(/^wizard_http_connections_refused_total 1$/m);
  expect(api.output()).toMatch(
    /"level":"warn".*"msg":"a connection was refused: the node has its most open connections \(--max-connections\)".*"max_connections":3/,
  );
  // one closes: a new one gets its place (once the node has seen the close)
  await held[2].close();
  const next = await waitUntil(
    async () => {
      const c = connection(port);
      return (await c.get('/healthz')) === 200 && c;
    },
    10_000,
    'a new connection to be served',
  );
  await Promise.all([held[0].close(), held[1].close(), next.close()]);
  await api.kill();
}, 120_000);

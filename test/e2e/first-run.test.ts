/**
 * What a newcomer meets on a first run, against the real binary: a port already taken stops `up`
 * (and `api`) before anything starts, naming the flag and the variable; `up` on another port says
 * what to export; client commands take their token from the tokens file (the client one, the
 * admin one for admin commands), and the start log and /whoami agree on the admin token; CORS
 * lets seed 002's front end (http://localhost:3000) in by default and nothing with
 * CORS_ORIGINS=none; /health on the in-memory store gives that store's own figures; a number out
 * of range is one `details` entry.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { http as request, killAll, runWizard, runWizardAsync, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-first-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** an in-memory `up` without bots on a free port: its URL and process */
async function up(args: string[] = [], env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = spawnWizard(
    ['up', '--port', String(port), '--bots', '0', ...args],
    { REDIS_URL: '', ...env },
    `up-${port}`,
  );
  await proc.waitForOutput(/API and dashboard at/, 30_000);
  return { url: `http://127.0.0.1:${port}`, port, proc };
}

describe('a port already taken', () => {
  test.each([['up'], ['api']])(
    'stops %s before it starts anything: exit 2, one line naming --port and PORT',
    async (role) => {
      const port = await freePort();
      const taken = net.createServer();
      await new Promise<void>((r) => taken.listen(port, '127.0.0.1', () => r()));
      try {
        // api: a Redis that is not there, never reached (up: in memory)
        const store = role === 'api' ? ['--redis', 'redis://127.0.0.1:1'] : [];
        const r = runWizard([role, '--port', String(port), ...store], { REDIS_URL: '' });
        expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
          code: 2,
          stdout: '',
          stderr: `error: --port ${port} is already in use on 127.0.0.1: give another with --port <n> or PORT=<n>\n`,
        });
        const fromEnv = runWizard([role, ...store], { REDIS_URL: '', PORT: String(port) });
        expect([fromEnv.code, fromEnv.stderr]).toEqual([
          2,
          `error: --port ${port} is already in use on 127.0.0.1: give another with --port <n> or PORT=<n>\n`,
        ]);
      } finally {
        await new Promise((r) => taken.close(r));
      }
    },
  );
});

test('up on a port of its own prints the WIZARD_API_URL to export, and the client commands reach it with it', async () => {
  const { url, proc } = await up();
  await proc.waitForOutput(/export WIZARD_API_URL=.*\n/); // the line after "API and dashboard at"
  expect(proc.output()).toContain(
    `wizard up: API and dashboard at ${url}\nwizard up: for client commands in another shell: export WIZARD_API_URL=${url}\n`,
  );
  const r = await runWizardAsync(['submit', 'task', '--a', '2', '--b', '3', '--watch', '--json'], {
    WIZARD_API_URL: url,
  });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ state: 'SUCCESS', result: 5 });
  await proc.kill('SIGTERM');
}, 60_000);

describe('with the tokens file exported, as the cluster recipe says', () => {
  const file = path.join(tmp, 'tokens');
  let url = '';
  let proc: Awaited<ReturnType<typeof up>>['proc'];
  beforeAll(async () => {
    expect(runWizard(['tokens', 'init', '--file', file]).code).toBe(0);
    ({ url, proc } = await up([], { WIZARD_TOKENS_FILE: file }));
  }, 60_000);
  afterAll(() => proc.kill('SIGTERM'));
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runWizardAsync(args, { WIZARD_API_URL: url, WIZARD_TOKENS_FILE: file, ...env });
  const tokens = () =>
    Object.fromEntries(
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => /^\w+ \w+ \w+$/.test(l))
        .map((l) => l.split(' ').slice(1)),
    );

  test('the start log and /whoami agree: an admin token is configured, from the file', async () => {
    // the API's log line and up's own banner come from two places: on a loaded machine the banner may be first
    await proc.waitForOutput(/"api listening"/);
    const listening = JSON.parse(
      proc
        .output()
        .split('\n')
        .find((l) => l.includes('"api listening"'))!,
    );
    expect(listening.admin_token).toBe('set (an admin-role API token)');
    const who = await request<{ admin: string }>('GET', `${url}/whoami`, undefined, {
      Authorization: `Bearer ${tokens().client}`,
    });
    expect(who.body.admin).toBe('configured');
  });

  test('client commands send the client token; an admin command the admin token', async () => {
    const status = await cli(['status', '--json']);
    expect([status.code, status.stderr]).toEqual([0, '']);
    expect(JSON.parse(status.stdout).jobs).toBeDefined();
    const dlq = await cli(['dlq', 'list', '--json']);
    expect([dlq.code, dlq.stderr]).toEqual([0, '']);
    expect(JSON.parse(dlq.stdout)).toMatchObject({ total: 0 });
    // the client token is not an admin's: the admin command needs the file's admin token
    const asClient = await cli(['dlq', 'list'], { WIZARD_TOKEN: tokens().client });
    expect(asClient.code).toBe(1);
    expect(asClient.stderr).toMatch(/^error: .*admin/);
  });

  test('a file with no client token: a client command is exit 2 naming --tokens-file, an admin command still works', async () => {
    const adminOnly = path.join(tmp, 'admin-only');
    fs.writeFileSync(adminOnly, `ops admin ${tokens().admin}\n`);
    const status = await cli(['status'], { WIZARD_TOKENS_FILE: adminOnly });
    expect([status.code, status.stdout, status.stderr]).toEqual([
      2,
      '',
      `error: --tokens-file: ${adminOnly} holds no token with the role client\n`,
    ]);
    const dlq = await cli(['dlq', 'list', '--json'], { WIZARD_TOKENS_FILE: adminOnly });
    expect(dlq.code).toBe(0);
  });
});

describe('CORS', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/api/count-primes`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  test("by default a preflight from seed 002's front end, http://localhost:3000, is allowed; another origin is refused", async () => {
    const { url, proc } = await up();
    const ok = await preflight(url, 'http://localhost:3000');
    expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([204, 'http://localhost:3000']);
    const other = await preflight(url, 'http://localhost:3001');
    expect([other.status, other.headers.get('access-control-allow-origin')]).toEqual([403, null]);
    await proc.kill('SIGTERM');
  }, 60_000);

  test('CORS_ORIGINS=none allows no origin', async () => {
    const { url, proc } = await up([], { CORS_ORIGINS: 'none' });
    const refused = await preflight(url, 'http://localhost:3000');
    expect([refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([403, null]);
    await proc.kill('SIGTERM');
  }, 60_000);
});

describe('/health on the in-memory store', () => {
  /** GET /health on a connection of its own, closed after */
  const health = (port: number) =>
    new Promise<{ stats: { connected_clients: number; total_commands_processed: number; used_memory_human: string } }>(
      (resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(JSON.parse(body)));
          })
          .on('error', reject);
      },
    );

  test("gives the store's own figures: the API's client connections, the calls it served", async () => {
    const { port, proc } = await up();
    const first = await health(port);
    expect(first.stats.connected_clients).toBe(1); // this request's
    const held = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((r) => {
            const s = net.connect(port, '127.0.0.1', () => r(s));
          }),
      ),
    );
    try {
      const second = await waitUntil(
        async () => {
          const h = await health(port);
          return h.stats.connected_clients === 3 && h;
        },
        10_000,
        'the two held connections counted',
      );
      expect(second.stats.total_commands_processed).toBeGreaterThan(first.stats.total_commands_processed);
      expect(second.stats.used_memory_human).toMatch(/^\d+(\.\d+)?[BKMG]$/);
    } finally {
      held.forEach((s) => s.destroy());
    }
    await proc.kill('SIGTERM');
  }, 60_000);

  test('a number out of range is one details entry for its field', async () => {
    const { url, proc } = await up();
    const r = await request<{ error: { message: string; details: unknown[] } }>('POST', `${url}/api/count-primes`, {
      n: 1e20,
      chunks: 4,
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({
      message: 'n must be an integer from 10000 to 10^12',
      details: [{ field: 'n', message: 'n must be an integer from 10000 to 10^12' }],
    });
    await proc.kill('SIGTERM');
  }, 60_000);
});

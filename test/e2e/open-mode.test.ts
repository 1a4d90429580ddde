/**
 * Open mode (no API tokens) against a live `wizard api`, issue #24 item 6: the attacks, and what
 * stays allowed. A DNS-rebinding page (`Host: attacker.example`) is refused, reads and writes;
 * a cross-origin POST with no body (`Origin: http://evil.example`) registers no bot and cancels
 * no job; the node's own pages, loopback names, --allowed-hosts and the CORS origins still work.
 * With tokens on, neither check applies: a page cannot act without the token.
 */
import http from 'node:http';
import os from 'node:os';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, runWizard, spawnWizard, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

interface Reply {
  status: number;
  body: {
    error?: { code: string; message: string; details: { field: string; message: string }[] };
    [k: string]: unknown;
  };
}

/** a request with the headers a browser would send (fetch may not set Host) */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function api(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ proc: WizardProc; port: number }> {
  const port = await freePort();
  const proc = spawnWizard(
    ['api', '--port', String(port), ...args],
    { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix(name), ...env },
    `api-${name}`,
  );
  await proc.waitForOutput(/api listening/, 60_000);
  return { proc, port };
}

describe('an open API on loopback', () => {
  let node: { proc: WizardProc; port: number };
  let self: string;
  beforeAll(async () => {
    node = await api('open', ['--allowed-hosts', 'wizard.internal'], { CORS_ORIGINS: 'http://localhost:3000' });
    self = `127.0.0.1:${node.port}`;
  }, 120_000);
  afterAll(() => node.proc.kill());

  test('a page rebound to this address (Host: attacker.example) is refused, reading and writing, with a 403 naming the Host header', async () => {
    const attacker = { host: `attacker.example:${node.port}` };
    for (const [method, path] of [
      ['GET', '/jobs'],
      ['GET', '/api/jobs/x/events'],
      ['POST', '/bots/register'],
      ['DELETE', '/abacus/sum'],
    ]) {
      const r = await send(node.port, method, path, attacker);
      expect({
        method,
        path,
        status: r.status,
        code: r.body.error?.code,
        field: r.body.error?.details[0]?.field,
      }).toEqual({ method, path, status: 403, code: 'forbidden', field: 'Host' });
      expect(r.body.error?.message).toMatch(
        /the Host header 'attacker\.example:\d+' names no address of this node: add it to --allowed-hosts \(WIZARD_ALLOWED_HOSTS\)/,
      );
    }
    expect((await send(node.port, 'GET', '/bots', { host: self })).body).toMatchObject({ total: 0 });
    // the liveness probe answers whatever the Host (a kubelet names the pod's address)
    expect((await send(node.port, 'GET', '/healthz', attacker)).status).toBe(200);
  });

  test('loopback names, the listen address and --allowed-hosts are served', async () => {
    for (const host of [
      self,
      `localhost:${node.port}`,
      `app.localhost:${node.port}`,
      `[::1]:${node.port}`,
      `127.0.0.2:${node.port}`,
      `LOCALHOST.:${node.port}`,
      'wizard.internal',
      `wizard.internal:${node.port}`,
    ]) {
      expect({ host, status: (await send(node.port, 'GET', '/jobs', { host })).status }).toEqual({ host, status: 200 });
    }
  });

  test('a cross-origin POST with no body registers no bot and cancels no job; the same from this origin or a CORS origin does', async () => {
    const posted = await send(node.port, 'POST', '/task', { host: self }, { a: 1, b: 2 });
    expect(posted.status).toBe(202);
    const id = String(posted.body.task_id);
    for (const origin of [
      'http://evil.example',
      'null',
      `http://127.0.0.1:${node.port + 1}`,
      `https://attacker.example`,
    ]) {
      for (const path of ['/bots/register', `/jobs/${id}/cancel`]) {
        const r = await send(node.port, 'POST', path, { host: self, origin });
        expect({ origin, path, status: r.status, field: r.body.error?.details[0]?.field }).toEqual({
          origin,
          path,
          status: 403,
          field: 'Origin',
        });
        expect(r.body.error?.message).toContain(`from the page of another origin (${origin}) is refused`);
      }
    }
    expect((await send(node.port, 'GET', '/bots', { host: self })).body).toMatchObject({ total: 0 });
    expect((await send(node.port, 'GET', `/jobs/${id}`, { host: self })).body).toMatchObject({
      state: expect.not.stringMatching(/CANCELLED/),
    });
    // a read from another origin is answered (without CORS headers, so its browser hides it)
    expect((await send(node.port, 'GET', '/bots', { host: self, origin: 'http://evil.example' })).status).toBe(200);
    // the dashboard's own page, a CORS origin, and a client with no Origin (curl, the CLI) may
    expect((await send(node.port, 'POST', '/bots/register', { host: self, origin: `http://${self}` })).status).toBe(
      201,
    );
    expect(
      (
        await send(node.port, 'POST', '/bots/register', {
          host: `localhost:${node.port}`,
          origin: `http://localhost:${node.port}`,
        })
      ).status,
    ).toBe(201);
    expect(
      (await send(node.port, 'POST', '/bots/register', { host: self, origin: 'http://localhost:3000' })).status,
    ).toBe(201);
    expect((await send(node.port, 'POST', `/jobs/${id}/cancel`, { host: self })).body).toMatchObject({
      state: 'CANCELLED',
    });
    expect((await send(node.port, 'GET', '/bots', { host: self })).body).toMatchObject({ total: 3 });
  });
});

test('listening on every address (--insecure), the machine\'s own addresses and name are served, another name is not; --allowed-hosts "*" turns the check off', async () => {
  const node = await api('open-any', ['--host', '0.0.0.0', '--insecure']);
  const own = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
  for (const host of [...own, os.hostname(), '0.0.0.0'])
    expect({ host, status: (await send(node.port, 'GET', '/jobs', { host: `${host}:${node.port}` })).status }).toEqual({
      host,
      status: 200,
    });
  expect((await send(node.port, 'GET', '/jobs', { host: 'attacker.example' })).status).toBe(403);
  await node.proc.kill();
  const any = await api('open-star', [], { WIZARD_ALLOWED_HOSTS: '*' });
  expect((await send(any.port, 'GET', '/jobs', { host: 'attacker.example' })).status).toBe(200);
  await any.proc.kill();
}, 120_000);

test('with API tokens on, the Host and Origin are not checked: what guards is the token, which a page does not send by itself', async () => {
  const token = 'open-mode-client-token-0123';
  const node = await api('tokens-on', [], { WIZARD_API_TOKENS: `c:client:${token}` });
  const evil = { host: 'attacker.example', origin: 'http://evil.example' };
  expect((await send(node.port, 'POST', '/task', evil, { a: 1, b: 1 })).status).toBe(401);
  expect(
    (await send(node.port, 'POST', '/task', { ...evil, authorization: `Bearer ${token}` }, { a: 1, b: 1 })).status,
  ).toBe(202);
  await node.proc.kill();
}, 120_000);

test('--allowed-hosts (and WIZARD_ALLOWED_HOSTS) takes host names: anything else is exit 2 with one line naming the flag', () => {
  for (const r of [
    runWizard(['api', '--allowed-hosts', 'http://x.example/']),
    runWizard(['api'], { WIZARD_ALLOWED_HOSTS: 'a b' }),
  ]) {
    expect({ code: r.code, lines: r.stderr.trim().split('\n').length }).toEqual({ code: 2, lines: 1 });
    expect(r.stderr).toContain('--allowed-hosts takes host names or addresses');
  }
});

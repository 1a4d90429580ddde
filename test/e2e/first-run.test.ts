/**
 * Seed checklists on a first run, against the real binary: CORS lets seed 002's front end
 * (http://localhost:3000) in by default and nothing with CORS_ORIGINS=none; /health on the
 * in-memory store gives that store's own figures; a number out of range is one `details` entry.
 */
import http from 'node:http';
import net from 'node:net';
import { http as request, killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

/** an in-memory `up` without bots on a free port: its URL and process */
async function up(args: string[] = [], env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = spawnWizard(['up', '--port', String(port), '--bots', '0', ...args], { REDIS_URL: '', ...env }, `up-${port}`);
  await proc.waitForOutput(/API and dashboard at/, 30_000);
  return { url: `http://127.0.0.1:${port}`, port, proc };
}

describe('CORS', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/api/count-primes`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });

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
    new Promise<{ stats: { connected_clients: number; total_commands_processed: number; used_memory_human: string } }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      }).on('error', reject);
    });

  test("gives the store's own figures: the API's client connections, the calls it served", async () => {
    const { port, proc } = await up();
    const first = await health(port);
    expect(first.stats.connected_clients).toBe(1); // this request's
    const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => {
      const s = net.connect(port, '127.0.0.1', () => r(s));
    })));
    try {
      const second = await waitUntil(async () => {
        const h = await health(port);
        return h.stats.connected_clients === 3 && h;
      }, 10_000, 'the two held connections counted');
      expect(second.stats.total_commands_processed).toBeGreaterThan(first.stats.total_commands_processed);
      expect(second.stats.used_memory_human).toMatch(/^\d+(\.\d+)?[BKMG]$/);
    } finally {
      held.forEach((s) => s.destroy());
    }
    await proc.kill('SIGTERM');
  }, 60_000);

  test('a number out of range is one details entry for its field', async () => {
    const { url, proc } = await up();
    const r = await request<{ error: { message: string; details: unknown[] } }>('POST', `${url}/api/count-primes`, { n: 1e20, chunks: 4 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ message: 'n must be an integer from 10000 to 10^12', details: [{ field: 'n', message: 'n must be an integer from 10000 to 10^12' }] });
    await proc.kill('SIGTERM');
  }, 60_000);
});

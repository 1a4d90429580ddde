/** Logs: one JSON line per event on stderr, with level, role, node_id, and job_id where there is one. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { createLogger } from '../../src/util/log';

function capture(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const out: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  return {
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    restore: () => spy.mockRestore(),
  };
}

test('each line is JSON with time, level, role, node_id, the message and its fields; child loggers add theirs', () => {
  const c = capture();
  try {
    const log = createLogger({ role: 'worker', node_id: 'w-1' }, 'info');
    log.info('worker started', { queue: 'default' });
    log.child({ job_id: 'j-1' }).warn('job failed', { attempt: 2 });
    log.debug('not shown at info');
    const [a, b, ...rest] = c.lines();
    expect(rest).toEqual([]);
    expect(a).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: 'info',
      role: 'worker',
      node_id: 'w-1',
      msg: 'worker started',
      queue: 'default',
    });
    expect(b).toMatchObject({
      level: 'warn',
      role: 'worker',
      node_id: 'w-1',
      job_id: 'j-1',
      msg: 'job failed',
      attempt: 2,
    });
  } finally {
    c.restore();
  }
});

test('LOG_LEVEL sets the level', () => {
  const before = process.env.LOG_LEVEL;
  const c = capture();
  try {
    process.env.LOG_LEVEL = 'warn';
    const log = createLogger({ role: 'api', node_id: 'a' });
    log.info('hidden');
    log.error('shown');
    process.env.LOG_LEVEL = 'silent';
    createLogger({ role: 'api' }).error('hidden too');
    expect(c.lines().map((l) => l.msg)).toEqual(['shown']);
  } finally {
    c.restore();
    if (before === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = before;
  }
});

test('at debug, the API logs each request with its route, status and the job_id it names', async () => {
  const log = createLogger({ role: 'api', node_id: 'api-1' }, 'debug');
  const store = { getJob: async () => null };
  const app = createApp({ store, nodeId: 'api-1', log, startedAt: 0, metrics: createApiMetrics() } as never);
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const c = capture();
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jobs/abc123`);
    expect(res.status).toBe(404);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.lines()).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        role: 'api',
        node_id: 'api-1',
        msg: 'http',
        method: 'GET',
        route: '/jobs/:id',
        status: 404,
        job_id: 'abc123',
      }),
    );
  } finally {
    c.restore();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

/**
 * Seed 000/001's distributed math wizard for real: 2 api and 2 worker processes on one Redis.
 * 200 tasks go in through api-1 and are polled through api-2; identity is tracked end to end.
 */
import { freePort } from '../helpers/redis-server';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

interface TaskStatus {
  task_id: string;
  status: string;
  result: number | null;
  initiated_by: string;
  checked_by: string;
  handled_by: string | null;
}

test('200 tasks through api-1, polled through api-2, handled by both workers', async () => {
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('math-cluster') };
  const [port1, port2] = [await freePort(), await freePort()];
  const apis = [
    spawnWizard(['api', '--node-id', 'api-1', '--port', String(port1)], env, 'api-1'),
    spawnWizard(['api', '--node-id', 'api-2', '--port', String(port2)], env, 'api-2'),
  ];
  const workers = ['worker-1', 'worker-2'].map((id) =>
    spawnWizard(['worker', '--node-id', id, '--concurrency', '4'], env, id),
  );
  await Promise.all([...apis, ...workers].map((p) => p.waitForOutput(/api listening|worker started/)));
  const api1 = `http://127.0.0.1:${port1}`;
  const api2 = `http://127.0.0.1:${port2}`;

  await waitUntil(
    async () => (await http<{ workers: { live: number } }>('GET', `${api2}/health`)).body.workers?.live === 2,
    10_000,
    'both workers in /health',
  );

  const submitted: { id: string; a: number; b: number }[] = [];
  for (let i = 0; i < 200; i++) {
    const a = Math.round(Math.random() * 2000 - 1000);
    const b = i;
    const res = await http<{ task_id: string; status: string }>('POST', `${api1}/task`, { a, b });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('PENDING');
    submitted.push({ id: res.body.task_id, a, b });
  }

  const handlers = new Set<string>();
  for (const t of submitted) {
    const final = await waitUntil(
      async () => {
        const r = await http<TaskStatus>('GET', `${api2}/tasks/${t.id}/status`);
        return r.body.status === 'SUCCESS' ? r.body : null;
      },
      20_000,
      `task ${t.id}`,
    );
    expect(final).toEqual({
      task_id: t.id,
      status: 'SUCCESS',
      result: t.a + t.b,
      error: null,
      initiated_by: 'api-1',
      checked_by: 'api-2',
      handled_by: expect.stringMatching(/^worker-[12]$/),
    });
    handlers.add(final.handled_by!);
  }
  expect([...handlers].sort()).toEqual(['worker-1', 'worker-2']);

  // graceful stop: every role exits 0
  const codes = await Promise.all([...apis, ...workers].map((p) => p.kill('SIGTERM')));
  expect(codes).toEqual([0, 0, 0, 0]);
}, 90_000);

/**
 * wizard's roles on a test Redis Cluster, and a load of tasks to check afterwards: an api and
 * workers given one node's URL, and POST /task as fast as it answers until stopped, then every
 * accepted task done once with its exact result and no answer but 202 and 503.
 */
import type { TestCluster } from './redis-cluster';
import { freePort } from './redis-server';
import { http, spawnWizard, waitUntil, WizardProc } from './procs';
import type { JobView } from '../../src/roles/api/views';

export interface ClusterRoles {
  api: string;
  procs: WizardProc[];
  workers: WizardProc[];
}

/** an api (api-1) and a worker per id (concurrency 8, lease 3 s unless leaseMs), all in /health */
export async function startRolesOnCluster(
  cluster: TestCluster,
  prefix: string,
  workerIds: string[],
  leaseMs = 3000,
): Promise<ClusterRoles> {
  const env = { REDIS_URL: cluster.seed, WIZARD_PREFIX: prefix };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const workers = workerIds.map((id) =>
    spawnWizard(['worker', '--node-id', id, '--concurrency', '8', '--lease-ms', String(leaseMs)], env, id),
  );
  const procs = [spawnWizard(['api', '--node-id', 'api-1', '--port', String(port)], env, 'api'), ...workers];
  // generous: on a loaded machine three processes starting at once beside a Cluster take a while
  await Promise.all(procs.map((p) => p.waitForOutput(/api listening|worker started/, 60_000)));
  await waitUntil(
    async () =>
      (await http<{ workers: { live: number } }>('GET', `${api}/health`)).body.workers?.live === workers.length,
    20_000,
    'every worker in /health',
  );
  return { api, procs, workers };
}

/** a job once it is finished (GET /jobs/:id) */
export async function finishedJob(api: string, id: string, timeoutMs = 60_000): Promise<JobView> {
  return waitUntil(
    async () => {
      const res = await http<JobView>('GET', `${api}/jobs/${id}`);
      return res.status === 200 && ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'].includes(res.body.state)
        ? res.body
        : null;
    },
    timeoutMs,
    `job ${id}`,
    100,
  );
}

/**
 * POST /task from `producers` loops as fast as it answers, until stopAndCheck(); doneBefore: the
 * tasks finished before under the prefix (the SUCCESS index counts them too)
 */
export function startTaskLoad(roles: ClusterRoles, producers = 1) {
  const accepted: { id: string; sum: number }[] = [];
  const statuses = new Map<number, number>();
  let stopped = false;
  let i = 0;
  const loops = Array.from({ length: producers }, async () => {
    while (!stopped) {
      const a = i++;
      const res = await http<{ task_id: string }>('POST', `${roles.api}/task`, { a, b: 7 }).catch(() => ({
        status: 0,
        body: { task_id: '' },
      }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) accepted.push({ id: res.body.task_id, sum: a + 7 });
      else await new Promise((r) => setTimeout(r, 50));
    }
  });
  return {
    accepted,
    /** wait for n more tasks accepted */
    async more(n: number, what: string) {
      const before = accepted.length;
      await waitUntil(async () => accepted.length >= before + n, 30_000, `${n} tasks accepted ${what}`).catch(
        (err: Error) => {
          throw new Error(
            `${err.message} (answers: ${JSON.stringify([...statuses])}); api: ${roles.procs[0].output().slice(-3000)}`,
          );
        },
      );
    },
    /**
     * stop the load; then every accepted task done once with its exact result (and, with
     * firstAttempt, at attempt 1), no answer but 202 and 503, nothing failed or waiting; the
     * SUCCESS total, for the next load's doneBefore
     */
    async stopAndCheck(doneBefore: number, o: { firstAttempt?: boolean } = {}): Promise<number> {
      stopped = true;
      await Promise.all(loops);
      expect([...statuses.keys()].filter((s) => s !== 202 && s !== 503)).toEqual([]);
      for (const t of accepted) {
        const done = await finishedJob(roles.api, t.id);
        // a second attempt says why (its error: who held the first and what ended it)
        const got = {
          id: t.id,
          state: done.state,
          result: done.result,
          ...(o.firstAttempt
            ? {
                attempts: done.attempts,
                ...(done.attempts !== 1 ? { error: done.attempts_log[0]?.error ?? done.error } : {}),
              }
            : {}),
        };
        expect(got).toEqual({ id: t.id, state: 'SUCCESS', result: t.sum, ...(o.firstAttempt ? { attempts: 1 } : {}) });
      }
      // nothing twice: the SUCCESS index holds each accepted task once (a 503 may have been written
      // before its answer was lost: at most one job each), and nothing else failed or waits
      const total = async (state: string) =>
        (await http<{ total: number }>('GET', `${roles.api}/jobs?status=${state}&limit=1`)).body.total;
      const success = await total('SUCCESS');
      expect(success).toBeGreaterThanOrEqual(doneBefore + accepted.length);
      expect(success).toBeLessThanOrEqual(doneBefore + accepted.length + (statuses.get(503) ?? 0));
      for (const state of ['FAILURE', 'DEAD', 'PENDING', 'STARTED', 'RETRY'])
        expect({ state, total: await total(state) }).toEqual({ state, total: 0 });
      return success;
    },
  };
}

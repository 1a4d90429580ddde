/**
 * Groups and limits over real HTTP, on both stores (docs/flow-control.md): a job's group in POST
 * /jobs and the seed routes, a token bound to a group, and the limits routes (admin to set, null
 * removes, GET answers what holds, /metrics counts what they held back).
 */
import { http } from '../helpers/procs';
import { ADAPTERS } from '../helpers/stores';
import { apiWithTokens } from '../helpers/token-api';

const T = {
  admin: 'flow-admin-token-0123456789',
  alice: 'flow-alice-token-0123456789',
  acme: 'flow-acme-token-0123456789',
};
const TOKENS = `ops admin ${T.admin}\nalice client ${T.alice}\nacme client ${T.acme} group=acme\n`;

describe.each(ADAPTERS)('groups and limits over HTTP: %s', (adapter) => {
  const api = apiWithTokens(adapter, 'flow', TOKENS, T.admin);
  const { call } = api;

  test('a job carries its group; a job without one answers no group field; a bad group is a 400 naming it', async () => {
    const a = await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, group: 'tenant-1' }, T.alice);
    expect(a.status).toBe(202);
    expect(a.body.group).toBe('tenant-1');
    expect((await call('GET', `/jobs/${a.body.job_id as string}`)).body.group).toBe('tenant-1');
    const t = await call('POST', '/task', { a: 1, b: 2, group: 'tenant-2' }, T.alice);
    expect(t.status).toBe(202);
    expect((await call('GET', `/jobs/${t.body.task_id as string}`)).body.group).toBe('tenant-2');
    const plain = await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 } }, T.alice);
    expect('group' in plain.body).toBe(false);
    for (const group of ['', 'a:b', 'x'.repeat(129), 'sp ace']) {
      const bad = await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, group }, T.alice);
      expect([group, bad.status, bad.body.error?.details[0].field]).toEqual([group, 400, 'group']);
    }
  });

  test('a token bound to a group: its jobs always carry it, and another group is refused', async () => {
    const made = await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 } }, T.acme);
    expect(made.body.group).toBe('acme');
    expect((await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, group: 'acme' }, T.acme)).status).toBe(
      202,
    );
    expect((await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, group: 'other' }, T.acme)).status).toBe(
      403,
    );
  });

  test('PUT /queues/:name/limits (admin) sets, null removes, GET answers what holds', async () => {
    expect((await call('PUT', '/queues/default/limits', { concurrency: 2 }, T.alice)).status).toBe(403);
    const set = await call('PUT', '/queues/default/limits', { concurrency: 2, group_concurrency: 1 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ queue: 'default', concurrency: 2, group_concurrency: 1 });
    expect((await call('PUT', '/queues/default/limits', { concurrency: null })).body).toMatchObject({
      concurrency: null,
      group_concurrency: 1,
    });
    expect((await call('GET', '/queues/default/limits', undefined, T.alice)).body).toMatchObject({
      concurrency: null,
      group_concurrency: 1,
    });
    const bad = await call('PUT', '/queues/default/limits', { concurrency: -1 });
    expect([bad.status, bad.body.error?.details[0].field]).toEqual([400, 'concurrency']);
    expect((await call('PUT', '/queues/default/limits', { nope: 1 })).status).toBe(400);
    expect((await call('GET', '/queues/nosuch/limits')).status).toBe(404);
  });

  test("PUT /queues/:name/groups/:group/limits sets a group's own; the queue's page lists its busiest groups", async () => {
    const g = await call('PUT', '/queues/default/groups/tenant-1/limits', { concurrency: 3 });
    expect(g.body).toMatchObject({ queue: 'default', group: 'tenant-1', concurrency: 3, waiting: 1, running: 0 });
    expect((await call('GET', '/queues/default/groups/tenant-1/limits')).body).toMatchObject({ concurrency: 3 });
    const limits = await call('GET', '/queues/default/limits');
    expect((limits.body.groups as { group: string }[]).map((x) => x.group)).toEqual(
      expect.arrayContaining(['tenant-1', 'acme']),
    );
    expect((await call('PUT', '/queues/default/groups/tenant-1/limits', { concurrency: null })).body).toMatchObject({
      concurrency: null,
    });
    const metrics = await http<string>('GET', `${api.url}/metrics`, undefined, { authorization: `Bearer ${T.admin}` });
    expect(String(metrics.body)).toMatch(/wizard_jobs_held_back_total\{queue="default",limit="concurrency"\} \d+/);
    expect(String(metrics.body)).toMatch(/wizard_group_jobs\{queue="default",group="acme",status="waiting"\} 2/);
  });

  test('rate and group_rate: set, null removes, a bad one is a 400 naming its field; a group takes its own', async () => {
    const set = await call('PUT', '/queues/default/limits', {
      rate: { max: 10, per_ms: 1000 },
      group_rate: { max: 2, per_ms: 500 },
    });
    expect([set.status, set.body]).toEqual([
      200,
      expect.objectContaining({
        rate: { max: 10, per_ms: 1000 },
        group_rate: { max: 2, per_ms: 500 },
        held_back_rate: 0,
      }),
    ]);
    for (const [body, field] of [
      [{ rate: { max: 0, per_ms: 1000 } }, 'rate.max'],
      [{ rate: { max: 5, per_ms: 0 } }, 'rate.per_ms'],
      [{ group_rate: { max: 5, per_ms: 86_400_001 } }, 'group_rate.per_ms'],
      [{ rate: { max: 5 } }, 'rate.per_ms'],
      [{ rate: 10 }, 'rate'],
      [{ rate: { max: 5, per_ms: 10, burst: 1 } }, 'rate'],
    ] as const) {
      const bad = await call('PUT', '/queues/default/limits', body);
      expect([JSON.stringify(body), bad.status, bad.body.error?.details[0].field]).toEqual([
        JSON.stringify(body),
        400,
        field,
      ]);
    }
    const g = await call('PUT', '/queues/default/groups/tenant-1/limits', { rate: { max: 1, per_ms: 100 } });
    expect(g.body).toMatchObject({ group: 'tenant-1', rate: { max: 1, per_ms: 100 } });
    expect(
      (await call('PUT', '/queues/default/groups/tenant-1/limits', { rate: { max: 'x', per_ms: 1 } })).body.error
        ?.details[0].field,
    ).toBe('rate.max');
    expect((await call('PUT', '/queues/default/groups/tenant-1/limits', { rate: null })).body).toMatchObject({
      rate: null,
    });
    expect((await call('PUT', '/queues/default/limits', { rate: null, group_rate: null })).body).toMatchObject({
      rate: null,
      group_rate: null,
      group_concurrency: 1,
    });
    const metrics = await http<string>('GET', `${api.url}/metrics`, undefined, { authorization: `Bearer ${T.admin}` });
    expect(String(metrics.body)).toMatch(/wizard_jobs_held_back_total\{queue="default",limit="rate"\} \d+/);
  });
});

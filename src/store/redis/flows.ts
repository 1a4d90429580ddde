/**
 * Flows (store.flows) on Redis: a flow in one shard is made and moved by one script a step; one
 * spread over shards (docs/flows.md "On a Redis Cluster") is made one shard at a time, and what a
 * node's finish tells other shards waits in its shard's outbox until FlowOutbox delivers it.
 */
import type { CreatedFlow, FlowView, NewFlow } from '../../core/flows';
import { ConflictError } from '../../core/errors';
import { scopedIdempotencyKey } from '../../core/job';
import { rowArgs } from '../common';
import type { FlowsStore } from '../concerns';
import {
  flowFingerprint,
  flowFinished,
  flowIdempotencyConflict,
  flowNotFound,
  flowPlan,
  flowView,
} from '../flows-common';
import { asFlowNodeId, shardOfId } from '../keys';
import { keyShard } from './shared';
import type { RedisConn } from './conn';
import { newUuidId, type Placement } from './placement';
import { CONFLICT, MISSING, OK } from './shared';
import { checkCode } from './codes';

/** what one look at a shard's outbox takes */
const OUTBOX_BATCH = 500;

/** the shard an outbox entry is for: a dep's (or a reopen's) dependent's, a cancel's named one, else the flow's home */
const targetOf = (entry: string): number => {
  const [kind, flowId, to] = JSON.parse(entry) as [string, string, string];
  if (kind === 'dep' || kind === 'reopen') return shardOfId(to);
  if (kind === 'cancel') return Number(to);
  return shardOfId(flowId);
};

/**
 * Delivers what a shard's finished flow nodes have to tell other shards (flowDeliver.lua), then
 * takes the entries out of the outbox; a delivery twice counts once, so the process that ran the
 * step (now) and the recovery (entries older than a grace) may both deliver one. An entry whose
 * target is not there yet waits in the outbox, and one older than the result TTL is dropped: its
 * flow has expired.
 */
export class FlowOutbox {
  /** deliver what a finishing step wrote at once (off: only the recovery does, as when its process died) */
  deliverNow = true;

  constructor(private readonly c: RedisConn) {}

  /** whether a flow can be spread over shards here */
  get spread(): boolean {
    return this.c.shardCount > 1 || this.c.shards.length > 1;
  }

  /** after a step that finished flow nodes in these shards: deliver their outboxes (failures are left to the recovery) */
  async after(shards: Iterable<number>): Promise<void> {
    if (!this.deliverNow || !this.spread) return;
    await Promise.all([...new Set(shards)].map((s) => this.drain(s, 0).catch(() => 0)));
  }

  /** the recovery: every shard's entries written at least graceMs ago; answers how many were delivered */
  async recover(graceMs: number): Promise<number> {
    if (!this.spread) return 0;
    const got = await this.c.perShard((_, shard) => this.drain(shard, graceMs));
    return got.reduce((a, b) => a + b, 0);
  }

  /** deliver one shard's entries written at least graceMs ago, and those the deliveries wrote in turn */
  private async drain(first: number, graceMs: number): Promise<number> {
    const todo = [first];
    let delivered = 0;
    for (let looks = 0; todo.length > 0 && looks < 64; looks++) {
      const shard = todo.shift()!;
      let done: string[] = [];
      for (;;) {
        const [entries, ages] = await this.c.run<[string[], number[]]>(
          'flowOutbox',
          [graceMs, OUTBOX_BATCH, ...done],
          this.c.shardKeys(shard),
        );
        done = [];
        if (entries.length === 0) break;
        const byTarget = new Map<number, number[]>();
        entries.forEach((e, i) => byTarget.set(targetOf(e), [...(byTarget.get(targetOf(e)) ?? []), i]));
        for (const [target, at] of byTarget) {
          const [codes, more] = await this.c.run<[number[], number]>(
            'flowDeliver',
            at.map((i) => entries[i]),
            this.c.shardKeys(target),
            true,
          );
          at.forEach((i, n) => {
            if (codes[n] === OK || Number(ages[i]) > this.c.options.resultTtlMs) done.push(entries[i]);
          });
          if (more === 1 && target !== shard && !todo.includes(target)) todo.push(target);
        }
        delivered += done.length;
        if (done.length === 0) break; // what is left waits for its target (the recovery looks again)
      }
    }
    return delivered;
  }
}

const pairs = (r: string[]): Record<string, string> => {
  const o: Record<string, string> = {};
  for (let i = 0; i < r.length; i += 2) o[r[i]] = r[i + 1];
  return o;
};

export class RedisFlows implements FlowsStore {
  constructor(
    private readonly c: RedisConn,
    private readonly place: Placement,
    private readonly outbox: FlowOutbox,
  ) {}

  /**
   * in one shard, one step; spread over shards (each node placed as a job of its queue is), one
   * step per shard: the other shards first, the home (the flow's record, its idempotency key) last
   */
  async create(flow: NewFlow): Promise<CreatedFlow> {
    // a role of the previous release finishing a node would not settle its dependents: on a
    // prefix still at its format (an upgrade not finished) no flow is made (docs/operations.md)
    if (!this.c.cpuLists)
      throw new ConflictError(
        'flows need every role on this version: stop the previous release, then run `wizard upgrade finish` (docs/operations.md)',
        [{ field: 'nodes', message: 'the prefix is at the previous format until the upgrade is finished' }],
      );
    const key = flow.idempotencyKey ? scopedIdempotencyKey(flow.idempotencyKey, flow.principal) : '';
    const places = this.outbox.spread
      ? flow.nodes.map((n) => this.place.pickShard(n.job.queue, n.job.group))
      : flow.nodes.map(() => -1);
    const home = key
      ? keyShard(key, this.c.shardCount)
      : this.outbox.spread
        ? (places[0] ?? 0)
        : this.place.pickShard(flow.nodes[0]?.job.queue);
    const shardOf = places.map((p) => (p < 0 ? home : p));
    const flowId = newUuidId(home);
    const { rows, links } = flowPlan(flowId, flow, (i) => asFlowNodeId(newUuidId(shardOf[i])));
    const fp = key ? flowFingerprint(flow) : '';
    const parts = [...new Set(shardOf)].filter((s) => s !== home);
    if (parts.length > 0 && key) {
      const existing = await this.existingFor(key, flow, home);
      if (existing) return existing;
    }
    const args = (shard: number, role: string, extra: string[]) => {
      const mine = rows.map((_, i) => i).filter((i) => shardOf[i] === shard);
      const own = mine.map((i) => {
        const [jobId, node, policy, deps, dependents] = links[i];
        const ds = dependents === '' ? [] : dependents.split(',');
        const far = ds.filter((d) => shardOfId(d) !== shard);
        return [jobId, node, policy, deps, ds.filter((d) => shardOfId(d) === shard).join(','), far.join(',')];
      });
      return [
        flowId,
        flow.name ?? '',
        flow.principal ?? '',
        role === 'part' ? '' : key,
        role === 'part' ? '' : fp,
        JSON.stringify(own),
        role,
        ...extra,
        ...rowArgs(
          mine.map((i) => rows[i]),
          this.c.cpuLists,
        ),
      ];
    };
    for (const shard of parts)
      await this.c.run('createFlow', args(shard, 'part', ['', '', '']), this.c.shardKeys(shard), true);
    const homeExtra =
      parts.length > 0
        ? [String(rows.length), JSON.stringify(links.flatMap(([jobId, node]) => [node, jobId])), parts.join(',')]
        : ['', '', ''];
    const [code, , existing, same] = await this.c.run<[number, string, string?, number?]>(
      'createFlow',
      args(home, parts.length > 0 ? 'home' : '', homeExtra),
      this.c.shardKeys(home),
      true,
    );
    if (code === CONFLICT) {
      if (same !== 1) throw flowIdempotencyConflict(flow.idempotencyKey!, existing!);
      const view = await this.get(existing!);
      if (!view) throw flowNotFound(existing!);
      return {
        flow_id: existing!,
        jobs: Object.fromEntries(Object.entries(view.nodes).map(([n, v]) => [n, v.job_id])),
        existing: true,
      };
    }
    return { flow_id: flowId, jobs: Object.fromEntries(flow.nodes.map((n, i) => [n.id, rows[i].id])), existing: false };
  }

  /** a spread flow's idempotency key looked up before its other shards are written: the flow it made, still kept */
  private async existingFor(key: string, flow: NewFlow, home: number): Promise<CreatedFlow | null> {
    const k = this.c.shardKeys(home);
    const [id, fp] = await this.c.cmd<(string | null)[]>(['HMGET', k.flowIdem(key), 'flow', 'fp']);
    if (!id) return null;
    const view = await this.get(id);
    if (!view) return null;
    if (fp !== flowFingerprint(flow)) throw flowIdempotencyConflict(flow.idempotencyKey!, id);
    return {
      flow_id: id,
      jobs: Object.fromEntries(Object.entries(view.nodes).map(([n, v]) => [n, v.job_id])),
      existing: true,
    };
  }

  async get(flowId: string): Promise<FlowView | null> {
    if (flowId === '' || flowId.includes(':')) return null;
    const k = this.c.at(flowId);
    const [rec, nodes] = await Promise.all([
      this.c.cmd<string[]>(['HGETALL', k.flowRecord(flowId)]),
      this.c.cmd<string[]>(['HGETALL', k.flowNodes(flowId)]),
    ]);
    if (rec.length === 0) return null;
    const list: [string, string][] = [];
    for (let i = 0; i < nodes.length; i += 2) list.push([nodes[i], nodes[i + 1]]);
    const recs = await Promise.all(
      list.map(([, id]) =>
        this.c.cmd<(string | null)[]>(['HMGET', this.c.at(id).job(id), 'state', 'result', 'error', 'dep_ids']),
      ),
    );
    return flowView(
      flowId,
      pairs(rec),
      list.map(([node, id], i) => {
        const [state, result, error, depIds] = recs[i];
        if (state === null) return [node, id, undefined];
        const r: Record<string, string> = { state };
        if (result !== null) r.result = result;
        if (error !== null) r.error = error;
        if (depIds !== null) r.dep_ids = depIds;
        return [node, id, r];
      }),
    );
  }

  async cancel(flowId: string): Promise<FlowView> {
    if (flowId === '' || flowId.includes(':')) throw flowNotFound(flowId);
    const [code, state] = await this.c.run<[number, string?]>('cancelFlow', [flowId], this.c.at(flowId), true);
    if (code === MISSING) throw flowNotFound(flowId);
    if (code === CONFLICT) throw flowFinished(flowId, state ?? '');
    await this.outbox.after([shardOfId(flowId)]);
    return (await this.get(flowId))!;
  }

  async recover(graceMs: number): Promise<number> {
    return this.outbox.recover(graceMs);
  }

  async keepSpan(jobId: string, token: string, span: string): Promise<void> {
    checkCode(await this.c.run('keepSpan', [jobId, token, span], this.c.at(jobId)), jobId);
  }

  async depSpans(jobId: string): Promise<string[]> {
    const deps = await this.c.cmd<string | null>(['HGET', this.c.at(jobId).job(jobId), 'dep_ids']);
    if (!deps) return [];
    // each dep by its own key: it holds wherever the dep lives
    const spans = await Promise.all(
      deps.split(',').map((d) => this.c.cmd<string | null>(['HGET', this.c.at(d).job(d), 'span'])),
    );
    return spans.filter((s): s is string => !!s);
  }

  async recent(limit: number): Promise<string[]> {
    const per = await this.c.perShard((k) =>
      this.c.cmd<string[]>(['ZRANGE', k.flows, 0, limit - 1, 'REV', 'WITHSCORES']),
    );
    const all: [string, number][] = [];
    for (const r of per) for (let i = 0; i < r.length; i += 2) all.push([r[i], Number(r[i + 1])]);
    return all
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([id]) => id);
  }
}

/** Flows (store.flows) on Redis: a flow and its nodes live in one shard, so each step is one script. */
import type { CreatedFlow, FlowView, NewFlow } from '../../core/flows';
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
import { keyShard } from './shared';
import type { RedisConn } from './conn';
import { newId, type Placement } from './placement';
import { CONFLICT, MISSING } from './shared';
import { checkCode } from './codes';

const pairs = (r: string[]): Record<string, string> => {
  const o: Record<string, string> = {};
  for (let i = 0; i < r.length; i += 2) o[r[i]] = r[i + 1];
  return o;
};

export class RedisFlows implements FlowsStore {
  constructor(
    private readonly c: RedisConn,
    private readonly place: Placement,
  ) {}

  async create(flow: NewFlow): Promise<CreatedFlow> {
    const key = flow.idempotencyKey ? scopedIdempotencyKey(flow.idempotencyKey, flow.principal) : '';
    const shard = key ? keyShard(key, this.c.shardCount) : this.place.pickShard(flow.nodes[0]?.job.queue);
    const flowId = newId(shard);
    const { rows, links } = flowPlan(flowId, flow, () => newId(shard));
    const fp = key ? flowFingerprint(flow) : '';
    const [code, , existing, same] = await this.c.run<[number, string, string?, number?]>(
      'createFlow',
      [
        flowId,
        flow.name ?? '',
        flow.principal ?? '',
        key,
        fp,
        JSON.stringify(links),
        ...rowArgs(rows, this.c.cpuLists),
      ],
      this.c.shardKeys(shard),
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
      list.map(([, id]) => this.c.cmd<(string | null)[]>(['HMGET', k.job(id), 'state', 'result', 'error', 'dep_ids'])),
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
    return (await this.get(flowId))!;
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

/** Flows (store.flows) in memory: createFlow.lua, cancelFlow.lua and lib-flow.lua's twin. */
import { DEP_FAILED_LIST, FINAL_STATES, type JobState } from '../../core/states';
import type { CreatedFlow, FlowView, NewFlow } from '../../core/flows';
import { scopedIdempotencyKey } from '../../core/job';
import { randomUUID } from 'node:crypto';
import type { FlowsStore } from '../concerns';
import { asFlowNodeId } from '../keys';
import {
  flowFingerprint,
  flowFinished,
  flowIdempotencyConflict,
  flowNotFound,
  flowPlan,
  flowView,
} from '../flows-common';
import type { MemoryCore } from './core';
import type { MemoryJobs } from './jobs';

type Rec = Record<string, string>;
interface FlowRec {
  rec: Rec;
  /** node id → job id */
  nodes: Map<string, string>;
  /** job id → its dependents' job ids */
  next: Map<string, string[]>;
  /** when it expires (finished), else null */
  until: number | null;
}

const DEP_FAILED = new Set<JobState>(DEP_FAILED_LIST);

export class MemoryFlows implements FlowsStore {
  private readonly flows = new Map<string, FlowRec>();
  private readonly idem = new Map<string, { flowId: string; fp: string }>();
  /** while dependents are settled: what finished meanwhile, settled in turn */
  private work: [string, string, JobState][] | null = null;

  constructor(
    private readonly m: MemoryCore,
    private readonly jobs: MemoryJobs,
  ) {
    m.onFlowNode = (flowId, id, to) => this.finished(flowId, id, to);
    m.onFlowNodeRetried = (flowId, id) => this.reopen(flowId, id);
    m.flowRunning = (flowId) => this.flow(flowId)?.rec.state === 'RUNNING';
  }

  private flow(flowId: string): FlowRec | undefined {
    const f = this.flows.get(flowId);
    if (f && f.until !== null && this.m.clock() > f.until) {
      this.flows.delete(flowId);
      return undefined;
    }
    return f;
  }

  async create(flow: NewFlow): Promise<CreatedFlow> {
    const key = flow.idempotencyKey ? scopedIdempotencyKey(flow.idempotencyKey, flow.principal) : '';
    if (key) {
      const used = this.idem.get(key);
      const had = used && this.flow(used.flowId);
      if (used && had) {
        if (used.fp !== flowFingerprint(flow)) throw flowIdempotencyConflict(flow.idempotencyKey!, used.flowId);
        return { flow_id: used.flowId, jobs: Object.fromEntries(had.nodes), existing: true };
      }
    }
    const flowId = randomUUID();
    const { rows, links } = flowPlan(flowId, flow, () => asFlowNodeId(randomUUID()));
    const created = this.jobs.insert(rows);
    const f: FlowRec = { rec: {}, nodes: new Map(), next: new Map(), until: null };
    for (const [jobId, node, policy, deps, dependents] of links) {
      const rec = this.m.jobs.get(jobId)!;
      Object.assign(rec, { flow_node: node, dep_ids: deps }, policy !== 'fail' ? { on_dep_failure: policy } : {});
      f.nodes.set(node, jobId);
      if (dependents !== '') f.next.set(jobId, dependents.split(','));
    }
    f.rec = {
      state: 'RUNNING',
      name: flow.name ?? '',
      total: String(created.length),
      done: '0',
      succeeded: '0',
      created_at: String(this.m.at),
      principal: flow.principal ?? '',
      idem: key,
    };
    this.flows.set(flowId, f);
    if (key) this.idem.set(key, { flowId, fp: flowFingerprint(flow) });
    return { flow_id: flowId, jobs: Object.fromEntries(f.nodes), existing: false };
  }

  async get(flowId: string): Promise<FlowView | null> {
    const f = this.flow(flowId);
    if (!f) return null;
    return flowView(
      flowId,
      f.rec,
      [...f.nodes].map(([node, id]) => [node, id, this.m.rec(id)]),
    );
  }

  async cancel(flowId: string): Promise<FlowView> {
    this.m.step();
    const f = this.flow(flowId);
    if (!f) throw flowNotFound(flowId);
    if (f.rec.state !== 'RUNNING') throw flowFinished(flowId, f.rec.state);
    f.rec.cancelled = '1';
    for (const id of f.nodes.values()) {
      const rec = this.m.rec(id);
      if (rec && !FINAL_STATES.has(rec.state as JobState)) await this.jobs.cancel(id);
    }
    return (await this.get(flowId))!;
  }

  /** nothing crosses shards in memory */
  async recover(): Promise<number> {
    return 0;
  }

  async recent(limit: number): Promise<string[]> {
    return [...this.flows.keys()]
      .filter((id) => this.flow(id))
      .reverse()
      .slice(0, limit);
  }

  /** keepSpan.lua */
  async keepSpan(jobId: string, token: string, span: string): Promise<void> {
    this.m.step();
    this.m.holder(jobId, token).span = span;
  }

  async depSpans(jobId: string): Promise<string[]> {
    const deps = this.m.rec(jobId)?.dep_ids;
    if (!deps) return [];
    return deps
      .split(',')
      .map((d) => this.m.rec(d)?.span)
      .filter((s): s is string => !!s);
  }

  /** lib-flow.lua's flowNodeFinished */
  private finished(flowId: string, id: string, to: JobState): void {
    if (this.work) {
      this.work.push([flowId, id, to]);
      return;
    }
    this.work = [[flowId, id, to]];
    for (let i = 0; i < this.work.length; i++) this.settle(...this.work[i]);
    this.work = null;
  }

  /** lib-flow.lua's settleNode */
  private settle(flowId: string, id: string, to: JobState): void {
    const f = this.flow(flowId);
    if (!f) return;
    const r = f.rec;
    const done = (r.done = String(Number(r.done) + 1));
    if (to === 'SUCCESS') r.succeeded = String(Number(r.succeeded) + 1);
    let node: string | undefined;
    for (const d of f.next.get(id) ?? []) {
      const dj = this.m.rec(d);
      if (!dj || dj.state !== 'PENDING' || !(Number(dj.deps_left) > 0)) continue;
      const left = Number(dj.deps_left) - 1;
      dj.deps_left = String(left);
      const policy = dj.on_dep_failure ?? 'fail';
      if (r.cancelled === '1') this.m.finish(d, dj, 'CANCELLED', { error: `cancelled: flow ${flowId} was cancelled` });
      else if (DEP_FAILED.has(to) && policy !== 'continue') {
        node ??= this.m.rec(id)?.flow_node ?? id;
        this.m.finish(d, dj, policy === 'skip' ? 'SKIPPED' : 'FAILURE', { error: `dep ${node} ended ${to}` });
      } else if (left <= 0) {
        dj.deps = this.depOutcomes(dj);
        this.m.requeueAtHead(d, dj);
      }
    }
    const total = Number(r.total);
    if (Number(done) >= total && r.state === 'RUNNING') {
      r.state = r.cancelled === '1' ? 'CANCELLED' : Number(r.succeeded) >= total ? 'SUCCESS' : 'FAILURE';
      r.finished_at = String(this.m.at);
      f.until = this.m.at + this.m.options.resultTtlMs;
    }
  }

  /** lib-flow.lua's reopenNode (with uncountNode): node id is not final again */
  private reopen(flowId: string, id: string): void {
    const f = this.flow(flowId);
    if (!f) return;
    f.rec.done = String(Number(f.rec.done) - 1);
    if (f.rec.state !== 'RUNNING') {
      Object.assign(f.rec, { state: 'RUNNING', finished_at: '' });
      f.until = null;
    }
    for (const d of f.next.get(id) ?? []) this.reopenDependent(flowId, d, id);
  }

  /** lib-flow.lua's reopenDependent: dep `from` of node d is not final again */
  private reopenDependent(flowId: string, d: string, from: string): void {
    const dj = this.m.rec(d);
    if (!dj) return;
    if (dj.state === 'PENDING') {
      if (Number(dj.deps_left) > 0) dj.deps_left = String(Number(dj.deps_left) + 1);
      return;
    }
    const state = dj.state as JobState;
    if (!DEP_FAILED.has(state) || state === 'DEAD' || state === 'CANCELLED' || Number(dj.attempts) > 0) return;
    if (!(dj.error ?? '').startsWith('dep ')) return;
    let left = 0;
    for (const dep of (dj.dep_ids ?? '').split(',').filter((x) => x !== '')) {
      const s = this.m.rec(dep)?.state as JobState | undefined;
      if (dep === from || !s || !FINAL_STATES.has(s)) left++;
      else if (DEP_FAILED.has(s) && (dj.on_dep_failure ?? 'fail') !== 'continue') return;
    }
    this.m.setState(d, dj, 'PENDING', { error: '', finished_at: '', deps_left: String(left), deps: '' });
    this.m.expiry.delete(d);
    this.reopen(flowId, d);
  }

  /** lib-flow.lua's depOutcomes: node id → {state, result?, error?} as JSON */
  private depOutcomes(rec: Rec): string {
    const parts = (rec.dep_ids ?? '')
      .split(',')
      .filter((d) => d !== '')
      .map((dep) => {
        const r = this.m.rec(dep);
        const state = r?.state ?? 'MISSING';
        let o = `{"state":${JSON.stringify(state)}`;
        if (state === 'SUCCESS' && r?.result) o += `,"result":${r.result}`;
        if (state !== 'SUCCESS' && r?.error) o += `,"error":${JSON.stringify(r.error)}`;
        return `${JSON.stringify(r?.flow_node ?? dep)}:${o}}`;
      });
    return `{${parts.join(',')}}`;
  }
}

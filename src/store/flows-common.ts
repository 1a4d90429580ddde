/** What both adapters do alike for a flow before it reaches them: its rows, links and fingerprint, and its view. */
import { ConflictError, NotFoundError } from '../core/errors';
import { flowLinks, flowStateOf, type FlowView, type NewFlow } from '../core/flows';
import type { JobState } from '../core/job';
import { jobRow, type JobRow } from './common';

/**
 * the rows of a flow's nodes (each with its flow and, with deps, deps_left) and their links for
 * createFlow.lua; `newId(i)` makes node i's job id (asFlowNodeId's shape)
 */
export function flowPlan(flowId: string, flow: NewFlow, newId: (i: number) => string) {
  const rows: JobRow[] = flow.nodes.map((n, i) => ({
    ...jobRow({ ...n.job, id: newId(i), principal: flow.principal }),
    flow_id: flowId,
    deps_left: n.deps.length > 0 ? String(new Set(n.deps).size) : '',
  }));
  const links = flowLinks(
    flow.nodes,
    rows.map((r) => r.id),
  ).map((l, i) => [rows[i].id, flow.nodes[i].id, flow.nodes[i].onDepFailure, l.deps.join(','), l.dependents.join(',')]);
  return { rows, links };
}

/** what a flow's idempotency key's first use is compared with: its nodes */
export const flowFingerprint = (flow: NewFlow): string =>
  JSON.stringify(flow.nodes.map((n) => [n.id, n.job.type, n.job.params ?? {}, n.deps, n.onDepFailure]));

export const flowIdempotencyConflict = (key: string, flowId: string) =>
  new ConflictError(`idempotency key '${key}' was used for flow ${flowId} with other nodes`, [
    { field: 'Idempotency-Key', message: `'${key}' is in use with other nodes (flow ${flowId})` },
  ]);

export const flowNotFound = (flowId: string) => new NotFoundError(`flow ${flowId} not found`);

export const flowFinished = (flowId: string, state: string) =>
  new ConflictError(`flow ${flowId} has finished (${state})`, [{ field: 'flow_id', message: `finished: ${state}` }]);

/** a flow's view from its record and its nodes' records (state, result, error, dep_ids) */
export function flowView(
  flowId: string,
  rec: Record<string, string>,
  nodes: [string, string, Record<string, string> | undefined][],
): FlowView {
  const total = Number(rec.total) || 0;
  const out: FlowView['nodes'] = {};
  const nodeOf = new Map(nodes.map(([node, jobId]) => [jobId, node]));
  for (const [node, jobId, r] of nodes) {
    const state = (r?.state ?? 'MISSING') as JobState;
    const deps = r?.dep_ids ? r.dep_ids.split(',').map((d) => nodeOf.get(d) ?? d) : [];
    const v: FlowView['nodes'][string] = { job_id: jobId, state, deps };
    if (r?.result !== undefined && state === 'SUCCESS') v.result = JSON.parse(r.result);
    if (r?.error && state !== 'SUCCESS') v.error = r.error;
    out[node] = v;
  }
  return {
    flow_id: flowId,
    name: rec.name || null,
    state: flowStateOf(Number(rec.done) || 0, Number(rec.succeeded) || 0, total, rec.cancelled === '1'),
    progress: { completed: Number(rec.done) || 0, total },
    created_at: Number(rec.created_at) || 0,
    finished_at: rec.finished_at ? Number(rec.finished_at) : null,
    nodes: out,
  };
}

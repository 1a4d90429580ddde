/**
 * Flows: jobs joined into a graph (docs/flows.md). A node runs once, when every one of its deps has
 * finished; what a dep that did not succeed does to it is its on_dep_failure. The graph is checked
 * here before anything is written; the stores make it run (src/store/lua/lib-flow.lua and its
 * memory twin).
 */
import { ValidationError } from './errors';
import type { JobState, NewJob } from './job';
import type { FlowState } from './states';

export const DEP_POLICIES = ['fail', 'skip', 'continue'] as const;
export type DepPolicy = (typeof DEP_POLICIES)[number];
/** the most nodes one flow may have */
export const MAX_FLOW_NODES = 10_000;

export interface NewFlowNode {
  /** the node's id in its flow */
  id: string;
  job: NewJob;
  deps: string[];
  onDepFailure: DepPolicy;
}

export interface NewFlow {
  name?: string;
  nodes: NewFlowNode[];
  idempotencyKey?: string;
  principal?: string;
}

export interface FlowNodeView {
  job_id: string;
  state: JobState;
  /** the node ids it depends on (the graph's edges), in the order given */
  deps: string[];
  result?: unknown;
  error?: string;
}

export interface FlowView {
  flow_id: string;
  name: string | null;
  state: FlowState;
  progress: { completed: number; total: number };
  created_at: number;
  finished_at: number | null;
  nodes: Record<string, FlowNodeView>;
}

/** what a created flow answers: its id and each node's job id (existing: an idempotent repeat) */
export interface CreatedFlow {
  flow_id: string;
  jobs: Record<string, string>;
  existing: boolean;
}

/** what a node's handler is given of a dep (ctx.deps[<node id>]) */
export interface DepOutcome {
  state: JobState;
  result?: unknown;
  error?: string;
}

/**
 * a duplicate node id, an unknown dep or a cycle, as a ValidationError naming the node (its field
 * nodes[i].id or nodes[i].deps); nothing when the graph can run
 */
export function checkGraph(nodes: readonly { id: string; deps: readonly string[] }[]): void {
  const at = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (at.has(n.id)) throw graphError(`nodes[${i}].id`, `node '${n.id}' appears twice`);
    at.set(n.id, i);
  });
  nodes.forEach((n, i) => {
    for (const d of n.deps) {
      if (!at.has(d)) throw graphError(`nodes[${i}].deps`, `node '${n.id}' depends on unknown node '${d}'`);
      if (d === n.id) throw graphError(`nodes[${i}].deps`, `node '${n.id}' depends on itself`);
    }
  });
  // Kahn's order: the nodes left over are on a cycle (or depend on one)
  const left = nodes.map((n) => new Set(n.deps).size);
  const next = new Map<string, number[]>();
  nodes.forEach((n, i) => new Set(n.deps).forEach((d) => next.set(d, [...(next.get(d) ?? []), i])));
  const ready = nodes.flatMap((_, i) => (left[i] === 0 ? [i] : []));
  for (let k = 0; k < ready.length; k++)
    for (const j of next.get(nodes[ready[k]].id) ?? []) if (--left[j] === 0) ready.push(j);
  if (ready.length < nodes.length) {
    const i = left.findIndex((l) => l > 0);
    throw graphError(`nodes[${i}].deps`, `node '${nodes[i].id}' is on a cycle of deps`);
  }
}

const graphError = (field: string, message: string) => new ValidationError(message, [{ field, message }]);

/** per node, in order: its deps' and its dependents' job ids (each once) */
export function flowLinks(
  nodes: readonly NewFlowNode[],
  jobIds: readonly string[],
): { deps: string[]; dependents: string[] }[] {
  const idOf = new Map(nodes.map((n, i) => [n.id, jobIds[i]]));
  const dependents = nodes.map(() => [] as string[]);
  const at = new Map(nodes.map((n, i) => [n.id, i]));
  nodes.forEach((n, i) => new Set(n.deps).forEach((d) => dependents[at.get(d)!].push(jobIds[i])));
  return nodes.map((n, i) => ({ deps: [...new Set(n.deps)].map((d) => idOf.get(d)!), dependents: dependents[i] }));
}

/** the flow's state from its counts (lib-flow.lua's settleNode) */
export function flowStateOf(done: number, succeeded: number, total: number, cancelled: boolean): FlowState {
  if (done < total) return 'RUNNING';
  return cancelled ? 'CANCELLED' : succeeded >= total ? 'SUCCESS' : 'FAILURE';
}

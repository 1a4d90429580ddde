/**
 * Flows: jobs joined into a graph (docs/flows.md). POST /flows makes one (each node's params checked
 * as POST /jobs checks them, the graph checked for duplicate ids, unknown deps and cycles); GET
 * /flows lists the recent ones, GET /flows/:id shows one, POST /flows/:id/cancel cancels what is
 * left of it.
 */
import { ValidationError } from '../../../core/errors';
import { checkGraph, type FlowView, type NewFlowNode } from '../../../core/flows';
import { iso, type JobType } from '../../../core/job';
import { flowBody, parseInput } from '../../../core/schemas';
import { principalName } from '../../../core/tokens';
import { NotFoundError } from '../../../core/errors';
import type { ApiContext } from '../context';
import { callerOf } from '../caller';
import { queueFor } from '../queues';
import { reply, RESPONSES } from '../responses';
import { checkParams, idempotencyHeader } from '../submit';
import { LOCATION, type Route } from '../route';

/** the flow as the API shows it: times in ISO 8601 */
const flowJson = (f: FlowView) => ({ ...f, created_at: iso(f.created_at)!, finished_at: iso(f.finished_at) });

async function getFlow(ctx: ApiContext, id: string): Promise<FlowView> {
  const f = await ctx.store.flows.get(id);
  if (!f) throw new NotFoundError(`flow ${id} not found`);
  return f;
}

/** a node's params checked by its type; a failure names nodes[i].params... */
function nodeParams(i: number, type: string, params: unknown): Record<string, unknown> {
  if (type === 'primes')
    throw new ValidationError(`nodes[${i}].type: a prime count cannot be a flow's node`, [
      { field: `nodes[${i}].type`, message: 'primes cannot be a node (its chunks are a flow of their own)' },
    ]);
  try {
    return checkParams(type as JobType, params ?? {});
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(
      `nodes[${i}]: ${err.message}`,
      err.details.map((d) => ({ field: `nodes[${i}].${d.field}`, message: d.message })),
    );
  }
}

export const flowRoutes: Route[] = [
  {
    method: 'POST',
    path: '/flows',
    need: 'submit',
    tag: 'flows',
    summary:
      'make a flow: nodes of any job type, each run once when its deps have finished and given their outcomes; on_dep_failure fail (default), skip or continue',
    body: flowBody,
    idempotent: true,
    ok: {
      202: { description: 'made', json: 'flowCreated', headers: LOCATION },
      200: {
        description: 'a repeated Idempotency-Key: the first flow (nothing made)',
        json: 'flowCreated',
        headers: LOCATION,
      },
    },
    errors: { 409: 'the Idempotency-Key is in use with other nodes' },
    handler: (ctx) => async (req, res) => {
      const body = parseInput(flowBody, req.body);
      const caller = callerOf(res);
      const principal = caller ? principalName(caller) : undefined;
      const nodes: NewFlowNode[] = [];
      for (const [i, n] of body.nodes.entries()) {
        const params = nodeParams(i, n.type, n.params);
        nodes.push({
          id: n.id,
          deps: n.deps ?? [],
          onDepFailure: n.on_dep_failure ?? 'fail',
          job: {
            type: n.type as JobType,
            params,
            queue: await queueFor(ctx, n.type, n.queue),
            priority: n.priority,
            timeoutMs: n.timeout_ms,
            maxAttempts: n.attempts,
            initiatedBy: ctx.nodeId,
            principal,
          },
        });
      }
      checkGraph(nodes);
      const made = await ctx.store.flows.create({
        name: body.name,
        nodes,
        idempotencyKey: idempotencyHeader(req),
        principal,
      });
      reply(res.location(`/flows/${made.flow_id}`), RESPONSES.flowCreated, made, made.existing ? 200 : 202);
    },
  },
  {
    method: 'GET',
    path: '/flows',
    need: 'read',
    tag: 'flows',
    summary: 'the most recent flows (up to 50), newest first',
    ok: { 200: { description: 'the flows', json: 'flows' } },
    handler: (ctx) => async (_req, res) => {
      const ids = await ctx.store.flows.recent(50);
      const flows = (await Promise.all(ids.map((id) => ctx.store.flows.get(id)))).filter((f) => f !== null);
      reply(res, RESPONSES.flows, { flows: flows.map(flowJson) });
    },
  },
  {
    method: 'GET',
    path: '/flows/:id',
    need: 'read',
    tag: 'flows',
    summary:
      "a flow: its state (RUNNING, SUCCESS, FAILURE, CANCELLED), progress and each node's job, state, result or error",
    ok: { 200: { description: 'the flow', json: 'flow' } },
    errors: { 404: 'unknown flow' },
    handler: (ctx) => async (req, res) => {
      reply(res, RESPONSES.flow, flowJson(await getFlow(ctx, String(req.params.id))));
    },
  },
  {
    method: 'POST',
    path: '/flows/:id/cancel',
    need: 'submit',
    tag: 'flows',
    summary: 'cancel every node of a flow that has not finished (a running one as a job is cancelled)',
    ok: { 200: { description: 'the flow, now CANCELLED', json: 'flow' } },
    errors: { 404: 'unknown flow', 409: 'the flow has finished' },
    handler: (ctx) => async (req, res) => {
      reply(res, RESPONSES.flow, flowJson(await ctx.store.flows.cancel(String(req.params.id))));
    },
  },
];

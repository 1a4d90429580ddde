/**
 * Flows: jobs joined into a graph (docs/flows.md). POST /flows makes one (each node's params checked
 * as POST /jobs checks them, the graph checked for duplicate ids, unknown deps and cycles); GET
 * /flows lists the recent ones, GET /flows/:id shows one, POST /flows/:id/cancel cancels what is
 * left of it.
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { errorMessage, ValidationError } from '../../../core/errors';
import { checkGraph, type CreatedFlow, type FlowView, type NewFlowNode } from '../../../core/flows';
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
import { admitWork, streamQuota } from '../quotas';
import { send, SSE_KEEPALIVE_MS, startEventStream } from './compat';
import { enqueueSpan, storedTrace, traceFrom } from '../../../util/tracing';

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

/** the flow's nodes, each checked by its type and its graph checked, made in one step */
async function makeFlow(
  ctx: ApiContext,
  body: z.output<typeof flowBody>,
  principal: string | undefined,
  trace: string | undefined,
  req: Request,
  res: Response,
): Promise<CreatedFlow> {
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
        ...(trace ? { trace } : {}),
      },
    });
  }
  checkGraph(nodes);
  // the caller's quotas count the nodes as jobs, as POST /jobs/bulk counts its jobs: past one, a 429 and nothing made
  const works = nodes.map((n) => ({
    type: n.job.type,
    params: n.job.params ?? {},
    options: { attempts: n.job.maxAttempts },
  }));
  const admission = await admitWork(ctx, res, works, async () => false);
  let made: CreatedFlow;
  try {
    made = await ctx.store.flows.create({ name: body.name, nodes, idempotencyKey: idempotencyHeader(req), principal });
  } catch (err) {
    await admission.unmade().catch(() => undefined);
    throw err;
  }
  await (made.existing ? admission.unmade() : admission.made(...Object.values(made.jobs))).catch((err: unknown) =>
    ctx.log.warn('quota not updated', { error: errorMessage(err) }),
  );
  return made;
}

/** POST /flows's body: up to 10,000 nodes (MAX_FLOW_NODES) of a few hundred bytes each; other routes keep theirs */
const FLOW_BODY_LIMIT = '4mb';

export const flowRoutes: Route[] = [
  {
    method: 'POST',
    path: '/flows',
    need: 'submit',
    tag: 'flows',
    summary:
      'make a flow: nodes of any job type, each run once when its deps have finished and given their outcomes; on_dep_failure fail (default), skip or continue',
    body: flowBody,
    bodyLimit: FLOW_BODY_LIMIT,
    idempotent: true,
    ok: {
      202: { description: 'made', json: 'flowCreated', headers: LOCATION },
      200: {
        description: 'a repeated Idempotency-Key: the first flow (nothing made)',
        json: 'flowCreated',
        headers: LOCATION,
      },
    },
    errors: {
      409: 'the Idempotency-Key is in use with other nodes, or an upgrade is not finished (docs/operations.md)',
    },
    handler: (ctx) => async (req, res) => {
      const body = parseInput(flowBody, req.body);
      const caller = callerOf(res);
      const principal = caller ? principalName(caller) : undefined;
      // the request's trace context, continued by one PRODUCER span (tracing on) whose context every node keeps
      const given = traceFrom(req.get('traceparent'), req.get('tracestate'));
      const { trace, span } = enqueueSpan(given, { type: 'flow', queue: '' });
      span?.set({ 'wizard.flow.nodes': body.nodes.length });
      try {
        const made = await makeFlow(ctx, body, principal, trace ? storedTrace(trace) : undefined, req, res);
        span?.set({ 'wizard.flow.id': made.flow_id });
        span?.end(made.existing ? 'EXISTING' : 'PENDING');
        reply(res.location(`/flows/${made.flow_id}`), RESPONSES.flowCreated, made, made.existing ? 200 : 202);
      } catch (err) {
        span?.end('REFUSED', errorMessage(err));
        throw err;
      }
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
  {
    method: 'GET',
    path: '/flows/:id/events',
    need: 'read',
    tag: 'flows',
    summary: "a flow's changes (Server-Sent Events)",
    ok: {
      200: {
        description:
          'an event stream (event: flow, data: the flow as GET /flows/{id} answers it, on each change), closed once the flow has ended',
        content: { 'text/event-stream': null },
      },
    },
    errors: { 404: 'unknown flow' },
    handler: (ctx) => {
      const takeStream = streamQuota(ctx);
      return async (req, res) => {
        const id = String(req.params.id);
        const first = await getFlow(ctx, id);
        const giveStreamBack = takeStream(res); // a 429 past the token's quota of open streams
        startEventStream(res);
        let closed = false;
        const unsubscribe: (() => void)[] = [];
        const end = () => {
          if (closed) return;
          closed = true;
          giveStreamBack();
          unsubscribe.forEach((u) => u());
          clearInterval(keepAlive);
          res.end();
        };
        req.on('close', end);
        // a node's event (or a keep-alive) makes one look at the flow; looks asked for while one
        // is waiting are that one (a burst of completions is one read), and only a change is sent
        let sent = '';
        let waiting = false;
        let chain = Promise.resolve();
        const look = () => {
          if (waiting || closed) return;
          waiting = true;
          chain = chain
            .then(async () => {
              waiting = false;
              if (closed) return;
              const f = await ctx.store.flows.get(id);
              if (!f) {
                send(res, 'gone', { flow_id: id, message: `flow ${id} no longer exists (it expired)` });
                return end();
              }
              const body = JSON.stringify(f);
              if (body !== sent) send(res, 'flow', flowJson(f));
              sent = body;
              if (f.state !== 'RUNNING') end();
            })
            .catch(() => undefined); // a store that is away: the next keep-alive looks again
        };
        const keepAlive = setInterval(() => {
          res.write(': keep-alive\n\n');
          look();
        }, SSE_KEEPALIVE_MS);
        for (const node of Object.values(first.nodes)) unsubscribe.push(await ctx.events.subscribe(node.job_id, look));
        look(); // after subscribing: nothing can fall in between
      };
    },
  },
];

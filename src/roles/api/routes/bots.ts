/**
 * The bots: register (a bot id and a token, shown once), heartbeat, deregister, the list,
 * and DELETE /bots/:id for admins. A bot's job is leased for botLeaseMs (BOT_DOWN_AFTER_MS) and
 * each heartbeat renews it, so the job lives exactly as long as the bot is seen alive.
 */
import { Router } from 'express';
import { botView, hashToken, newBotCredentials } from '../../../core/bots';
import { NotFoundError, UnknownBotError } from '../../../core/errors';
import { parseInput, registerBotBody } from '../../../core/schemas';
import { requireAdmin } from '../admin';
import { botIdOf, requireBot } from '../bot-auth';
import { ApiContext, BOT_WORK_DEFAULTS } from '../context';
import { pathBotId } from '../ids';
import { optionalBody } from '../errors';
import { reply, RESPONSES } from '../responses';

export function botRoutes(ctx: ApiContext): Router {
  const r = Router();
  const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
  const bot = requireBot(ctx.store);

  r.post('/bots/register', async (req, res) => {
    const body = parseInput(registerBotBody, optionalBody(req));
    const { id, token } = newBotCredentials();
    const registered = await ctx.store.bots.register(id, body.name ?? id, hashToken(token));
    reply(res, RESPONSES.registered, { ...botView(registered), token, lease_ms: p.botLeaseMs }, 201);
  });

  r.post('/bots/heartbeat', bot, async (_req, res) => {
    const seen = await ctx.store.bots.heartbeat(botIdOf(res), p.botLeaseMs);
    ctx.metrics.prom.botHeartbeats.inc();
    if (!seen) throw new UnknownBotError();
    reply(res, RESPONSES.bot, botView(seen));
  });

  /** a bot leaving (on SIGTERM): the job it holds goes back to the queue */
  r.post('/bots/deregister', bot, async (_req, res) => {
    await ctx.store.bots.remove(botIdOf(res));
    res.status(204).end();
  });

  r.delete('/bots/:id', requireAdmin(ctx), async (req, res) => {
    const id = pathBotId(req);
    if (!(await ctx.store.bots.remove(id))) throw new NotFoundError(`bot ${id} not found`);
    res.status(204).end();
  });

  r.get('/bots', async (_req, res) => {
    const bots = await ctx.store.bots.list();
    const up = bots.filter((b) => b.status === 'up').length;
    reply(res, RESPONSES.bots, { total: bots.length, up, down: bots.length - up, bots: bots.map(botView) });
  });

  return r;
}

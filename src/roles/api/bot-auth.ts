/**
 * Bots authenticate with the token POST /bots/register gave them (Authorization: Bearer <token>).
 * The store keeps its sha256 → bot id; the route reads the bot id with botIdOf(res). With API
 * tokens on, the access gate has looked the token up already and set it.
 */
import type { RequestHandler, Response } from 'express';
import { hashToken } from '../../core/bots';
import { UnknownBotError, WizardError } from '../../core/errors';
import type { Store } from '../../store/types';
import { presentedToken } from './admin';

export function requireBot(store: Store): RequestHandler {
  return async (req, res, next) => {
    if (res.locals.botId) return next(); // the access gate has looked the token up already
    const token = presentedToken(req, 'x-bot-token');
    if (!token)
      throw new WizardError(
        'unauthorized',
        'bot token required: send Authorization: Bearer <token from POST /bots/register>',
      );
    const botId = await store.bots.idForToken(hashToken(token));
    if (!botId) throw new UnknownBotError();
    res.locals.botId = botId;
    next();
  };
}

export const botIdOf = (res: Response): string => res.locals.botId as string;

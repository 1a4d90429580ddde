/** Bots (store.bots): registered, heartbeating, each holding one job of the bot queue by its record. */
import { Job } from '../../core/job';
import type { Bot } from '../../core/bots';
import { claimView, decodeBot, pairsToRecord, withSchedule } from '../codec';
import { botErrors, tokenBase } from '../common';
import type { BotsStore } from '../concerns';
import type { BotsDown, FailTarget } from '../types';
import { checkBotCode } from './codes';
import { BOT_BUSY, OK, retryDelayOf } from './shared';
import type { RedisConn } from './conn';

export class RedisBots implements BotsStore {
  constructor(private readonly c: RedisConn) {}

  async register(botId: string, name: string, tokenHash: string): Promise<Bot> {
    return decodeBot(
      pairsToRecord(await this.c.run<string[]>('registerBot', [botId, name, tokenHash], this.c.keys, true)),
    );
  }

  async idForToken(tokenHash: string): Promise<string | null> {
    return this.c.cmd<string | null>(['HGET', this.c.keys.botTokens, tokenHash]);
  }

  async get(botId: string): Promise<Bot | null> {
    const flat = await this.c.cmd<string[]>(['HGETALL', this.c.keys.bot(botId)]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async list(): Promise<Bot[]> {
    const ids = await this.c.cmd<string[]>(['ZRANGE', this.c.keys.bots, 0, -1]);
    const bots = await Promise.all(ids.map((id) => this.get(id)));
    return bots.filter((b): b is Bot => b !== null);
  }

  async heartbeat(botId: string, leaseMs: number): Promise<Bot | null> {
    const flat = await this.c.run<string[]>('heartbeatBot', [botId, leaseMs]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async claim(botId: string, queue: string, leaseMs: number): Promise<Job | null> {
    const [code, nowOrJob, entry, made] = await this.c.run<[number, string?, (string | null)[]?, (string | null)[]?]>(
      'claimJobForBot',
      [botId, queue, leaseMs, tokenBase(botId)],
    );
    if (code === BOT_BUSY) throw botErrors.busy(botId, String(nowOrJob));
    checkBotCode(code, botId, '');
    return entry ? withSchedule(claimView(entry, { queue, consumer: botId, now: Number(nowOrJob) }), made) : null;
  }

  async startJob(botId: string, jobId: string): Promise<void> {
    checkBotCode(await this.c.run('startJob', [jobId, botId]), botId, jobId);
  }

  async completeJob(botId: string, jobId: string, result: unknown): Promise<void> {
    checkBotCode(
      await this.c.run('completeBotJob', [jobId, botId, JSON.stringify(result ?? null)], this.c.keys, true),
      botId,
      jobId,
    );
  }

  async failJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    checkBotCode(
      await this.c.run('failBotJob', [jobId, botId, error, target.to, retryDelayOf(target)], this.c.keys, true),
      botId,
      jobId,
    );
  }

  async holdJob(botId: string, jobId: string, holdMs: number): Promise<void> {
    checkBotCode(
      await this.c.run('failBotJob', [jobId, botId, '', 'HOLD', Math.max(0, Math.round(holdMs))], this.c.keys, true),
      botId,
      jobId,
    );
  }

  async remove(botId: string): Promise<boolean> {
    return (await this.c.run<number>('removeBot', [botId])) === OK;
  }

  async markDown(downAfterMs: number, limit = 500): Promise<BotsDown> {
    const [down, reclaimed] = await this.c.run<[string[], string[]]>('markBotsDown', [downAfterMs, limit]);
    return { down, reclaimed };
  }
}

/** Bots (store.bots), as the Redis adapter's redis/bots.ts (registerBot.lua, heartbeatBot.lua, claimJobForBot.lua, startJob.lua, ...). */
import { Job } from '../../core/job';
import type { Bot } from '../../core/bots';
import { JobCancelledError, NotFoundError } from '../../core/errors';
import { decodeBot, withSchedule } from '../codec';
import { botErrors, tokenBase } from '../common';
import type { BotsStore } from '../concerns';
import type { BotsDown, FailTarget } from '../types';
import type { MemoryCore } from './core';
import type { MemoryJobs } from './jobs';
import { Rec, HELD, zsorted, zrangeByScore } from './structures';

export class MemoryBots implements BotsStore {
  constructor(
    private readonly m: MemoryCore,
    private readonly queuePath: MemoryJobs,
  ) {}

  /** lib.lua's botToken: the claim token the bot holds the job with */
  private botToken(botId: string, jobId: string): string {
    const bot = this.m.botRecs.get(botId);
    if (!bot) throw botErrors.unknown(botId);
    if (bot.current_job !== jobId) {
      const rec = this.m.rec(jobId);
      if (!rec) throw new NotFoundError(`job ${jobId} not found`);
      if (rec.state === 'CANCELLED') throw new JobCancelledError(jobId); // forgotten at a heartbeat: still said as cancelled
      throw botErrors.notHolder(botId, jobId);
    }
    return bot.job_token;
  }

  /** lib.lua's botDone */
  private botDone(botId: string, counter: 'jobs_done' | 'jobs_failed'): void {
    const bot = this.m.botRecs.get(botId)!;
    Object.assign(bot, { current_job: '', job_token: '', [counter]: String(Number(bot[counter]) + 1) });
  }

  /** the bot's job, when the bot still holds it under its token */
  private heldByBot(bot: Rec): Rec | undefined {
    const job = bot.current_job === '' ? undefined : this.m.rec(bot.current_job);
    return job && job.token === bot.job_token ? job : undefined;
  }

  async register(botId: string, name: string, tokenHash: string): Promise<Bot> {
    const now = String(this.m.step());
    const bot: Rec = {
      id: botId,
      name,
      token_hash: tokenHash,
      status: 'up',
      registered_at: now,
      last_heartbeat: now,
      down_at: '',
      current_job: '',
      job_token: '',
      jobs_done: '0',
      jobs_failed: '0',
    };
    this.m.botRecs.set(botId, bot);
    this.m.botTokens.set(tokenHash, botId);
    this.m.botsRegistered.set(botId, this.m.at);
    this.m.botsUp.set(botId, this.m.at);
    return decodeBot(bot);
  }

  async idForToken(tokenHash: string): Promise<string | null> {
    return this.m.botTokens.get(tokenHash) ?? null;
  }

  async get(botId: string): Promise<Bot | null> {
    const bot = this.m.botRecs.get(botId);
    return bot ? decodeBot(bot) : null;
  }

  async list(): Promise<Bot[]> {
    return zsorted(this.m.botsRegistered).map(([id]) => decodeBot(this.m.botRecs.get(id)!));
  }

  async heartbeat(botId: string, leaseMs: number): Promise<Bot | null> {
    const now = this.m.step();
    const bot = this.m.botRecs.get(botId);
    if (!bot) return null;
    Object.assign(bot, { last_heartbeat: String(now), status: 'up', down_at: '' });
    this.m.botsUp.set(botId, now);
    if (bot.current_job !== '') {
      const job = this.heldByBot(bot);
      if (job) this.queuePath.extendLease(bot.current_job, job, now + leaseMs);
      else Object.assign(bot, { current_job: '', job_token: '' });
    }
    return decodeBot(bot);
  }

  async claim(botId: string, queue: string, leaseMs: number): Promise<Job | null> {
    const base = tokenBase(botId);
    const now = this.m.step();
    const bot = this.m.botRecs.get(botId);
    if (!bot) throw botErrors.unknown(botId);
    if (this.heldByBot(bot)) throw botErrors.busy(botId, bot.current_job);
    Object.assign(bot, { last_heartbeat: String(now), status: 'up', down_at: '', current_job: '', job_token: '' });
    this.m.botsUp.set(botId, now);
    const [claimed] = this.queuePath.claimFrom(queue, { consumer: botId, max: 1, leaseMs, trace: true }, base).jobs;
    if (!claimed) return null;
    Object.assign(bot, { current_job: claimed.job.id, job_token: claimed.token });
    const rec = this.m.rec(claimed.job.id)!;
    return withSchedule(claimed.job, [rec.schedule, rec.slot]);
  }

  async startJob(botId: string, jobId: string): Promise<void> {
    const now = this.m.step();
    const rec = this.m.holder(jobId, this.botToken(botId, jobId));
    if (rec.state === 'STARTED') this.m.setState(jobId, rec, 'PROGRESS', { started_at: String(now) });
  }

  async completeJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.m.step();
    this.queuePath.completeJob(jobId, this.botToken(botId, jobId), result);
    this.botDone(botId, 'jobs_done');
  }

  async failJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.m.step();
    this.queuePath.failJob(jobId, this.botToken(botId, jobId), error, target);
    this.botDone(botId, 'jobs_failed');
  }

  /** failBotJob.lua's HOLD */
  async holdJob(botId: string, jobId: string, holdMs: number): Promise<void> {
    this.m.step();
    this.queuePath.releaseHolding(jobId, this.botToken(botId, jobId), holdMs);
    Object.assign(this.m.botRecs.get(botId)!, { current_job: '', job_token: '' });
  }

  async remove(botId: string): Promise<boolean> {
    this.m.step();
    const bot = this.m.botRecs.get(botId);
    if (!bot) return false;
    const job = this.heldByBot(bot);
    if (job) this.queuePath.releaseHeld(bot.current_job, job);
    this.m.botTokens.delete(bot.token_hash);
    this.m.botRecs.delete(botId);
    this.m.botsRegistered.delete(botId);
    this.m.botsUp.delete(botId);
    return true;
  }

  async markDown(downAfterMs: number, limit = 500): Promise<BotsDown> {
    const now = this.m.step();
    const down: string[] = [];
    const reclaimed: string[] = [];
    const silentSince = this.m.reapableUpTo(this.m.reaper('bots'), downAfterMs, now) - downAfterMs;
    for (const botId of zrangeByScore(this.m.botsUp, silentSince, limit)) {
      this.m.botsUp.delete(botId);
      const bot = this.m.botRecs.get(botId);
      if (!bot) continue;
      const [jobId, job, silentMs] = [bot.current_job, this.heldByBot(bot), now - Number(bot.last_heartbeat)];
      Object.assign(bot, { status: 'down', down_at: String(now), current_job: '', job_token: '' });
      down.push(botId);
      if (job && HELD.has(job.state)) {
        this.queuePath.reclaim(jobId, job, `bot down: no heartbeat for ${silentMs} ms`);
        reclaimed.push(jobId);
      }
    }
    return { down, reclaimed };
  }
}

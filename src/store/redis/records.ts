/** What the adapter reads and keeps besides the queue path: jobs and listings merged across shards, events, nodes, locks, schedules, bots and the datalake. */
import { Job, JOB_STATES, JobState, NewJob } from '../../core/job';
import type { Bot } from '../../core/bots';
import { DatalakeConfig, LakeDay, LakeRecord, lakeRecord } from '../../core/datalake';
import { StoreOutOfMemoryError } from '../../core/errors';
import type { Schedule } from '../../core/schedule';
import {
  claimView,
  decodeBot,
  decodeJob,
  decodeLakeConfig,
  decodeLakeDay,
  decodeSchedule,
  encodeSchedule,
  pairsToRecord,
  withSchedule,
} from '../codec';
import { botErrors, createdJob, isStorableJobId, JobRow, notRetryable, rowArgs, tokenBase } from '../common';
import { RedisKeys } from '../keys';
import type {
  BotsDown,
  FailTarget,
  FinishedCounts,
  JobEvent,
  ListQuery,
  ListResult,
  NodeInfo,
  QueueInfo,
} from '../types';
import { sleep } from '../../util/time';
import {
  COUNTED_NOT_INDEXED,
  QUEUE_SCAN,
  QUEUE_SCAN_PAGE,
  decodeEvents,
  EVENTS_POLL_MS,
  scored,
  newestFirst,
  retryDelayOf,
  OK,
  CONFLICT,
  BOT_BUSY,
  type Found,
} from './shared';
import { scheduledRows, ScheduledWork } from '../scheduled-work';
import { RedisJobs } from './jobs';
import { RedisShards } from './shards';

export class RedisRecords extends RedisJobs {
  /** paused as shard 0 says (pause and resume set every shard) */
  async listQueues(): Promise<QueueInfo[]> {
    const names = await this.knownQueues();
    return Promise.all(
      names.map(async (name) => {
        const [depth, paused] = await Promise.all([
          this.queueDepth(name),
          this.cmd<string | null>(['ZSCORE', this.keys.ready(name), 'paused']),
        ]);
        return { name, ...depth, paused: paused !== null };
      }),
    );
  }

  /** recording checked_by is best-effort: an out-of-memory Redis refuses it, and the job is read all the same */
  async checkJob(jobId: string, checkedBy: string): Promise<Job | null> {
    let flat: string[];
    try {
      flat = await this.run<string[]>('checkJob', [jobId, checkedBy], this.at(jobId));
    } catch (err) {
      if (!(err instanceof StoreOutOfMemoryError)) throw err;
      return this.getJob(jobId);
    }
    return flat.length ? decodeJob(pairsToRecord(flat), jobId) : null;
  }

  async listJobs(q: ListQuery): Promise<ListResult> {
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    if (q.state && COUNTED_NOT_INDEXED.has(q.state)) return this.listQueuedInState(q.state, offset, limit);
    const state = q.state;
    return this.listIndex((k) => (state ? k.state(state) : k.jobs), offset, limit);
  }

  async listDead(offset = 0, limit = 50): Promise<ListResult> {
    return this.listIndex((k) => k.dlq, offset, limit);
  }

  /**
   * a page of an index (a zset per shard), newest first: each shard's first offset + limit
   * merged by score (ties by id, as ZRANGE REV orders them); with one shard, the page itself
   */
  protected async listIndex(keyOf: (k: RedisKeys) => string, offset: number, limit: number): Promise<ListResult> {
    const from = this.shards.length === 1 ? offset : 0;
    const per = await this.perShard((k) =>
      Promise.all([
        this.cmd<number>(['ZCARD', keyOf(k)]),
        limit > 0
          ? this.cmd<string[]>(['ZRANGE', keyOf(k), from, offset + limit - 1, 'REV', 'WITHSCORES'])
          : Promise.resolve([]),
      ]),
    );
    const found = per.flatMap(([, flat]) => scored(flat));
    const page = newestFirst(found).slice(offset - from, offset - from + limit);
    return { total: per.reduce((t, [n]) => t + n, 0), jobs: await this.getJobs(page.map((f) => f.id)) };
  }

  async retryDead(jobId: string): Promise<Job> {
    this.checkCode(await this.run('retryDeadJob', [jobId], this.at(jobId), true), jobId);
    return (await this.getJob(jobId))!;
  }

  async retryFailed(jobId: string): Promise<Job> {
    const code = await this.run('retryFailedJob', [jobId], this.at(jobId), true);
    if (code === CONFLICT) throw notRetryable(jobId);
    this.checkCode(code, jobId);
    return (await this.getJob(jobId))!;
  }

  async purgeDead(): Promise<number> {
    let total = 0;
    for (const k of this.shards)
      for (let n = -1; n !== 0; total += n) n = await this.run<number>('purgeDeadJobs', [1000], k);
    return total;
  }

  async listChildren(parentId: string): Promise<Job[]> {
    if (!isStorableJobId(parentId)) return [];
    return this.getJobs(await this.cmd<string[]>(['LRANGE', this.at(parentId).children(parentId), 0, -1]));
  }

  async countByState(): Promise<Record<JobState, number>> {
    const per = await this.perShard((k) =>
      Promise.all([
        Promise.all(JOB_STATES.map((s) => this.cmd<number>(['ZCARD', k.state(s)]))),
        this.queuedStateCounts(k),
      ]),
    );
    return Object.fromEntries(
      JOB_STATES.map((s, i) => [s, per.reduce((t, [indexed, counted]) => t + indexed[i] + (counted[s] ?? 0), 0)]),
    ) as Record<JobState, number>;
  }

  /** how many queued top-level jobs of a shard are PENDING and STARTED (lib.lua counts them: the index leaves them to the queues) */
  protected async queuedStateCounts(k: RedisKeys): Promise<Partial<Record<JobState, number>>> {
    const states = [...COUNTED_NOT_INDEXED];
    const values = await this.cmd<(string | null)[]>(['HMGET', k.counts, ...states]);
    return Object.fromEntries(states.map((s, i) => [s, Number(values[i] ?? 0)]));
  }

  /**
   * PENDING or STARTED jobs, newest change first (then by id, as ZRANGE REV orders a tie): those the index holds (jobs on no queue: a
   * prime count's parent) and the top-level ones the queues hold, PENDING from each wait list
   * (most recently queued first, looked at up to QUEUE_SCAN entries deep: chunks and retries
   * share the list), STARTED from each lease set (as many as are held); every shard's, merged.
   */
  protected async listQueuedInState(state: JobState, offset: number, limit: number): Promise<ListResult> {
    const want = offset + limit;
    const per = await this.perShard((k) => this.queuedInStateOf(k, state, want));
    const page = newestFirst(per.flatMap((p) => p.found))
      .slice(offset, want)
      .map((f) => f.id);
    return { total: per.reduce((t, p) => t + p.total, 0), jobs: await this.getJobs(page) };
  }

  /** one shard's part of listQueuedInState: its count and its first `want` jobs in `state` */
  protected async queuedInStateOf(
    k: RedisKeys,
    state: JobState,
    want: number,
  ): Promise<{ total: number; found: Found[] }> {
    const [indexedTotal, indexed, counted, queues] = await Promise.all([
      this.cmd<number>(['ZCARD', k.state(state)]),
      want > 0 ? this.cmd<string[]>(['ZRANGE', k.state(state), 0, want - 1, 'REV', 'WITHSCORES']) : Promise.resolve([]),
      this.queuedStateCounts(k),
      this.cmd<string[]>(['SMEMBERS', k.queues]),
    ]);
    const found: Found[] = scored(indexed);
    /** the top-level jobs among ids that are in `state`, with the time of their last change */
    const inState = async (ids: string[]): Promise<Found[]> => {
      const fields = await Promise.all(
        ids.map((id) =>
          this.cmd<(string | null)[]>(['HMGET', k.job(id), 'state', 'parent_id', 'updated_at', 'created_at']),
        ),
      );
      return ids.flatMap((id, i) => {
        const [s, parent, updated, created] = fields[i];
        return s === state && !parent ? [{ id, at: Number(updated ?? created) }] : [];
      });
    };
    // pages about twice the page asked for: most of a wait list's head is what was asked for, unless chunks crowd it
    const pageSize = Math.min(QUEUE_SCAN_PAGE, Math.max(50, want * 2));
    const fromQueue = async (queue: string): Promise<Found[]> => {
      if (state === 'STARTED') return inState(await this.cmd<string[]>(['ZRANGE', k.active(queue), 0, -1]));
      const matches: Found[] = [];
      for (const list of RedisShards.waitLists(k, queue)) {
        for (let from = 0; matches.length < want && from < QUEUE_SCAN; from += pageSize) {
          const ids = await this.cmd<string[]>(['LRANGE', list, from, from + pageSize - 1]);
          if (ids.length === 0) break;
          matches.push(...(await inState(ids))); // whole pages: a batch queued at one time sorts by id, as the index does
        }
      }
      // delayed PENDING jobs wait in the delayed set
      if (state === 'PENDING')
        matches.push(
          ...(await inState(await this.cmd<string[]>(['ZRANGE', k.delayed(queue), 0, QUEUE_SCAN_PAGE - 1]))),
        );
      return matches;
    };
    if (want > 0) for (const matches of await Promise.all(queues.map(fromQueue))) found.push(...matches);
    return { total: indexedTotal + (counted[state] ?? 0), found };
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const per = await this.perShard((k) =>
      Promise.all([
        Promise.all(RedisShards.waitLists(k, queue).map((list) => this.cmd<number>(['LLEN', list]))).then((ls) =>
          ls.reduce((a, b) => a + b, 0),
        ),
        this.cmd<number>(['ZCARD', k.active(queue)]),
        this.cmd<number>(['ZCARD', k.delayed(queue)]),
      ]),
    );
    const sum = (i: number) => per.reduce((t, p) => t + p[i], 0);
    return { waiting: sum(0), active: sum(1), delayed: sum(2) };
  }

  /** the position in the event log: a stream id, or with several shards one per shard, joined by commas */
  async lastEventId(): Promise<string> {
    const ids = await this.perShard(async (k) => {
      const last = await this.cmd<[string, string[]][]>(['XREVRANGE', k.events, '+', '-', 'COUNT', 1]);
      return last.length ? last[0][0] : '0';
    });
    return ids.join(',');
  }

  /**
   * events after a position. One shard: XREAD (blocking up to blockMs). Several: every shard's
   * stream read after its own part of the position, merged by time; each event's id is the
   * position after it. They block by reading again every EVENTS_POLL_MS while nothing came
   * (only while someone watches a job: the API's event hub).
   */
  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    if (this.shards.length === 1) return this.readShardEvents(this.keys, afterId.split(',')[0], blockMs, count);
    const cursor = afterId.split(',');
    const until = Date.now() + blockMs;
    for (;;) {
      const per = await this.perShard((k, i) => this.readShardEvents(k, cursor[i] ?? '0', 0, count));
      const all = per.flatMap((events, shard) => events.map((e) => ({ e, shard }))).sort((a, b) => a.e.at - b.e.at);
      if (all.length > 0 || Date.now() >= until) {
        return all.map(({ e, shard }) => {
          cursor[shard] = e.id;
          return { ...e, id: this.shards.map((_, i) => cursor[i] ?? '0').join(',') };
        });
      }
      await sleep(Math.min(EVENTS_POLL_MS, Math.max(1, until - Date.now())));
    }
  }

  protected async readShardEvents(k: RedisKeys, afterId: string, blockMs: number, count: number): Promise<JobEvent[]> {
    const args: (string | number)[] = ['XREAD', 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', k.events, afterId);
    const link = blockMs > 0 ? await this.blockingLink('events') : this.main;
    const reply = await this.cmd<[string, [string, string[]][]][] | null>(
      args,
      link,
      blockMs + this.options.commandTimeoutMs,
    );
    if (!reply) return [];
    return reply[0][1].flatMap(([id, flat]) => decodeEvents(id, flat));
  }

  /** heartbeatNode.lua: live for ttlMs from Redis's time, so a node's own clock does not matter */
  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    await this.run('heartbeatNode', [role, nodeId, ttlMs, JSON.stringify(info)], this.groups.nodes);
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    const k = this.groups.nodes;
    await Promise.all([this.cmd(['DEL', k.node(role, nodeId)]), this.cmd(['ZREM', k.nodes(role), nodeId])]);
  }

  /** liveNodes.lua: the nodes whose heartbeat has not lapsed by Redis's time */
  async liveNodes(role: string): Promise<NodeInfo[]> {
    const flat = await this.run<string[]>('liveNodes', [role], this.groups.nodes);
    const nodes: NodeInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const { seenAt, ...info } = JSON.parse(flat[i + 1]) as { seenAt: number } & Record<string, unknown>;
      nodes.push({ nodeId: flat[i], role, seenAt, info });
    }
    return nodes;
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd<string | null>(['SET', this.groups.locks.lock(name), holder, 'NX', 'PX', ttlMs])) === 'OK';
  }

  // ---- the bot batch, leadership, bots, the datalake ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(jobs, (rows) =>
      this.run<[number, string?]>('enqueueBatch', [onceKey, ttlMs, ...rowArgs(rows, this.cpuLists)], this.keys, true),
    );
  }

  async enqueueScheduled(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: ScheduledWork,
  ): Promise<Job[] | null> {
    const made = await this.insertOnce(jobs, (rows) =>
      this.run<[number, string?]>(
        'enqueueScheduled',
        [onceKey, ttlMs, schedule, slot, ...rowArgs(rows, this.cpuLists)],
        this.keys,
        true,
      ),
    );
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  /** a once-keyed enqueue's answer: null when its key was used */
  protected async insertOnce(
    jobs: ScheduledWork,
    call: (rows: JobRow[]) => Promise<[number, string?]>,
  ): Promise<Job[] | null> {
    const rows = scheduledRows(jobs);
    const [created, now] = await call(rows);
    return created === 0 && rows.length > 0 ? null : rows.map((r) => createdJob(r, Number(now)));
  }

  async saveSchedule(schedule: Schedule, replace = false): Promise<boolean> {
    const value = encodeSchedule(schedule);
    if (replace) await this.cmd(['HSET', this.keys.schedules, schedule.name, value]);
    else if ((await this.cmd<number>(['HSETNX', this.keys.schedules, schedule.name, value])) === 0) return false;
    return true;
  }

  async listSchedules(): Promise<Schedule[]> {
    const flat = await this.cmd<string[]>(['HGETALL', this.keys.schedules]);
    return Object.values(pairsToRecord(flat))
      .map(decodeSchedule)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async removeSchedule(name: string): Promise<boolean> {
    return (await this.cmd<number>(['HDEL', this.keys.schedules, name])) === 1;
  }

  async knownQueues(): Promise<string[]> {
    const per = await this.perShard((k) => this.cmd<string[]>(['SMEMBERS', k.queues]));
    return [...new Set(per.flat())].sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const states = ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'] as const;
    const per = await this.perShard((k) =>
      Promise.all(states.map((st) => this.cmd<number>(['ZCOUNT', k.state(st), sinceMs, '+inf']))),
    );
    const sum = (i: number) => per.reduce((t, c) => t + c[i], 0);
    return { SUCCESS: sum(0), FAILURE: sum(1), DEAD: sum(2), CANCELLED: sum(3) };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>('holdLock', [name, holder, ttlMs], this.groups.locks)) === 1;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    await this.run('releaseLock', [name, holder], this.groups.locks);
  }

  async lockHolder(name: string): Promise<string | null> {
    return this.cmd<string | null>(['GET', this.groups.locks.lock(name)]);
  }

  async registerBot(botId: string, name: string, tokenHash: string): Promise<Bot> {
    return decodeBot(pairsToRecord(await this.run<string[]>('registerBot', [botId, name, tokenHash], this.keys, true)));
  }

  async botIdForToken(tokenHash: string): Promise<string | null> {
    return this.cmd<string | null>(['HGET', this.keys.botTokens, tokenHash]);
  }

  async getBot(botId: string): Promise<Bot | null> {
    const flat = await this.cmd<string[]>(['HGETALL', this.keys.bot(botId)]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async listBots(): Promise<Bot[]> {
    const ids = await this.cmd<string[]>(['ZRANGE', this.keys.bots, 0, -1]);
    const bots = await Promise.all(ids.map((id) => this.getBot(id)));
    return bots.filter((b): b is Bot => b !== null);
  }

  async botHeartbeat(botId: string, leaseMs: number): Promise<Bot | null> {
    const flat = await this.run<string[]>('heartbeatBot', [botId, leaseMs]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async claimForBot(botId: string, queue: string, leaseMs: number): Promise<Job | null> {
    const [code, nowOrJob, entry, made] = await this.run<[number, string?, (string | null)[]?, (string | null)[]?]>(
      'claimJobForBot',
      [botId, queue, leaseMs, tokenBase(botId)],
    );
    if (code === BOT_BUSY) throw botErrors.busy(botId, String(nowOrJob));
    this.checkBotCode(code, botId, '');
    return entry ? withSchedule(claimView(entry, { queue, consumer: botId, now: Number(nowOrJob) }), made) : null;
  }

  async startBotJob(botId: string, jobId: string): Promise<void> {
    this.checkBotCode(await this.run('startJob', [jobId, botId]), botId, jobId);
  }

  async completeBotJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.checkBotCode(
      await this.run('completeBotJob', [jobId, botId, JSON.stringify(result ?? null)], this.keys, true),
      botId,
      jobId,
    );
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.checkBotCode(
      await this.run('failBotJob', [jobId, botId, error, target.to, retryDelayOf(target)], this.keys, true),
      botId,
      jobId,
    );
  }

  async removeBot(botId: string): Promise<boolean> {
    return (await this.run<number>('removeBot', [botId])) === OK;
  }

  async markBotsDown(downAfterMs: number, limit = 500): Promise<BotsDown> {
    const [down, reclaimed] = await this.run<[string[], string[]]>('markBotsDown', [downAfterMs, limit]);
    return { down, reclaimed };
  }

  async datalakeConfig(): Promise<DatalakeConfig> {
    const [records, days] = await this.cmd<(string | null)[]>([
      'HMGET',
      this.keys.config,
      'datalake',
      'datalake_retention_days',
    ]);
    return decodeLakeConfig(records, days);
  }

  async configureDatalake(config: Partial<DatalakeConfig>): Promise<void> {
    const fields: string[] = [];
    if (config.records !== undefined) fields.push('datalake', config.records);
    if (config.retentionDays !== undefined) fields.push('datalake_retention_days', String(config.retentionDays));
    if (fields.length) await this.perShard((k) => this.cmd(['HSET', k.config, ...fields])); // each shard's scripts read their own copy
  }

  async datalakeDays(): Promise<LakeDay[]> {
    // every shard's days, their counts and counters summed
    const per = await this.perShard(async (k) => {
      const days = await this.cmd<string[]>(['ZRANGE', k.lakeDays, 0, -1, 'WITHSCORES']);
      return Promise.all(
        scored(days).map(async ({ id: d, at }) => {
          const [stats, count] = await Promise.all([
            this.cmd<string[]>(['HGETALL', k.lakeStats(d)]),
            this.cmd<number>(['LLEN', k.lake(d)]),
          ]);
          return { d, at, count, stats: pairsToRecord(stats) };
        }),
      );
    });
    const days = new Map<string, { at: number; count: number; stats: Record<string, string> }>();
    for (const { d, at, count, stats } of per.flat()) {
      const had = days.get(d);
      if (!had) days.set(d, { at, count, stats });
      else {
        had.count += count;
        for (const [f, v] of Object.entries(stats)) had.stats[f] = String(Number(had.stats[f] ?? 0) + Number(v));
      }
    }
    return [...days]
      .sort((a, b) => a[1].at - b[1].at || (a[0] < b[0] ? -1 : 1))
      .map(([d, v]) => decodeLakeDay(d, v.count, v.stats));
  }

  async readDatalake(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    // the shards' lists of the day one after the other (shard 0's first), so paging by offset is exact
    const out: string[] = [];
    let skip = offset;
    for (const k of this.shards) {
      if (out.length >= count) break;
      const len = this.shards.length === 1 ? Infinity : await this.cmd<number>(['LLEN', k.lake(day)]);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      out.push(...(await this.cmd<string[]>(['LRANGE', k.lake(day), skip, skip + count - out.length - 1])));
      skip = 0;
    }
    return out.map(lakeRecord);
  }

  async pruneDatalake(): Promise<string[]> {
    const per = await this.perShard((k) => this.run<string[]>('pruneDatalake', [], k));
    return [...new Set(per.flat())].sort();
  }
}

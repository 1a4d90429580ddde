/** The Redis adapter's options, the arguments and answers of its scripts, and the merges of what several shards answer. */
import { createHash } from 'node:crypto';
import { JobState } from '../../core/job';
import { lakeEntryUnfinished } from '../../core/datalake';
import { ClaimContext, claimView, json as jsonField, stateOfRecord } from '../codec';
import { ClusterLink, seedUrls } from '../cluster';
import { shardOfId } from '../keys';
import { Link } from '../link';
import { SentinelMaster } from '../sentinel';
import type { Durability, ClaimOptions, ClaimResult, Completion, FailTarget, JobEvent, StoreOptions } from '../types';
import { CLAIM, CLAIM_ARGS, CODE, COMPLETION, pushRow, wireJson, type WireArg } from '../wire';
import type { RedisConn } from './conn';

export type Reply = unknown;

export const {
  OK,
  MISSING,
  TOKEN_MISMATCH,
  BAD_RESULT,
  CONFLICT,
  OUT_OF_RANGE,
  NOT_HOLDER,
  BOT_MISSING,
  BOT_BUSY,
  CANCELLED,
} = CODE;

/** connections of their own for durable writes: a WAIT blocks its connection until a replica answers */
export const DURABLE_CONNECTIONS = 4;

/** TLS for rediss://: PEM contents of the CA and of a client certificate and key */
export interface RedisTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface RedisStoreOptions extends StoreOptions {
  url: string;
  /** with a rediss:// URL: the CA to trust, a client certificate and key */
  tls?: RedisTls;
  /**
   * a command that gets no answer in this time fails, even after it was written, and its
   * connection is replaced; an idle connection is PINGed with this deadline too (ms)
   */
  commandTimeoutMs: number;
  /**
   * connections of its own for the abacus's optimistic transactions (WATCH), opened on demand.
   * One by default: adds on the same node then queue for it instead of racing (and conflicting
   * with) each other, so conflicts come only from other nodes (README "Abacus" has the numbers).
   */
  watchConnections: number;
  /**
   * with Sentinel: the Sentinels that name the master (sentinel.ts), whose address is then used
   * instead of `url`'s host and port (its scheme, user and password still apply)
   */
  sentinel?: SentinelMaster;
  /**
   * 'replica': a write a user is told succeeded is answered only once a replica has it (WAIT 1);
   * one no replica confirms within durabilityTimeoutMs is a StoreUnavailableError
   */
  durability: Durability;
  durabilityTimeoutMs: number;
  /** a test seam: runs in an optimistic add after the sum is read and before it is written */
  betweenReadAndWrite?: () => Promise<void>;
  /** `url` names a Redis Cluster (comma-separated seed nodes): node-redis's cluster client, keys spread by shard */
  cluster?: boolean;
  /**
   * the shard count to set for the whole prefix (shard 0's config, `shards`); unset: what is set,
   * or on a new prefix 2 per master on a Cluster and 1 on a plain Redis
   */
  shards?: number;
  /** the queue bots claim from: its jobs stay in shard 0 with the bots, so a bot's claim is one script */
  botQueue?: string;
}

/** a connection: to one Redis (link.ts), or to a Cluster (cluster.ts) */
export type Conn = Link | ClusterLink;

/** sets the shard count and grows the list of shard tags (never shrinks it: no shard is forgotten) */
export const SET_SHARDS = `
local cur = redis.call('HGET', KEYS[1], 'shard_tags')
if not cur or #cjson.decode(cur) < #cjson.decode(ARGV[2]) then redis.call('HSET', KEYS[1], 'shard_tags', ARGV[2]) end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'shards', ARGV[1]) end
return redis.call('HMGET', KEYS[1], 'shards', 'shard_tags')`;
/** the datalake settings every shard's config carries a copy of (lib.lua reads its own shard's) */
export const LAKE_FIELDS = ['datalake', 'datalake_retention_days'];
/** how long a look at every shard's most urgent priority orders the claims (ms) */
export const URGENCY_MS = 100;

/** the shard of an idempotency key: its hash, so every node looks for the key in one place */
export function keyShard(key: string, shards: number): number {
  return shards <= 1 ? 0 : createHash('sha1').update(key).digest().readUInt32BE(0) % shards;
}

/** how often a role reads the shard layout again (another role may have changed it) */
export const LAYOUT_EVERY_MS = 2000;

/** claimJobs.lua's answer: the claim's time, when the next delayed job is due (or ''), how many are CPU jobs, the claim values */
export type ClaimReply = [string, string, number, ...(string | null)[][]];

/** a BZPOPMIN on a queue's marker (ordinary or CPU) in one shard (jobs.ts waitForWork); settled and kept: it popped */
export interface Waker {
  key: string;
  shard: number;
  cpu: boolean;
  p: Promise<boolean>;
  settled: boolean;
}

/** a claim's answer and how many of its jobs are CPU jobs (what the claim of the next shard may still take) */
export interface KindClaim {
  result: ClaimResult;
  cpu: number;
}

/** the states a queued job is in while its queue holds it: counted, not indexed (src/core/states.ts) */
export { COUNTED_NOT_INDEXED } from '../../core/states';
/** how deep listQueuedInState looks into a wait list, and how much at a time */
export const QUEUE_SCAN = 10_000;
export const QUEUE_SCAN_PAGE = 500;

/** what a prefix's format asks of the hot scripts' arguments (RedisConn has both) */
export interface MoveFormat {
  /** the largest result a SUCCESS event carries: 0 below format 3 */
  eventResultMax: number;
  /** format 3: a claim and a completion leave a job's updated_at out (lib.lua's leanMoves) */
  leanMoves: boolean;
}

/** claimJobs.lua's arguments (and completeAndClaim.lua's last ones) */
export function claimArgs(
  queue: string,
  opts: ClaimOptions,
  base: string,
  format: MoveFormat,
  rateRoom = -1,
): (string | number)[] {
  const args: (string | number)[] = [];
  pushRow(args, CLAIM_ARGS, {
    queue,
    consumer: opts.consumer,
    max: opts.max,
    max_cpu: opts.maxCpu ?? -1,
    lease_ms: opts.leaseMs,
    token_base: base,
    trace: opts.trace ? '1' : '',
    rate_room: rateRoom,
    lean: format.leanMoves ? '1' : '',
  });
  return args;
}

/** what a claim for `opts` may still take once `got` was taken: ordinary and CPU jobs, or (no maxCpu) jobs of either kind */
export function leftToClaim(opts: ClaimOptions, got: KindClaim): ClaimOptions {
  const n = got.result.jobs.length;
  return opts.maxCpu === undefined
    ? { ...opts, max: opts.max - n }
    : { ...opts, max: opts.max - (n - got.cpu), maxCpu: opts.maxCpu - got.cpu };
}

/** a claim for `opts` takes something */
export const claimsAny = (opts: ClaimOptions): boolean => opts.max > 0 || (opts.maxCpu ?? 0) > 0;

/** claimJobs.lua's answer as jobs claimed at Redis's time, which the jobs' startedAt is */
export function claimResult([now, next, cpu, ...entries]: ClaimReply, queue: string, consumer: string): KindClaim {
  const tokenAt = CLAIM.indexOf('token');
  const context: ClaimContext = { queue, consumer, now: Number(now) };
  return {
    result: {
      nextRunAt: next === '' ? null : Number(next),
      now: context.now,
      jobs: entries.map((values) => ({ token: values[tokenAt]!, job: claimView(values, context) })),
    },
    cpu: Number(cpu),
  };
}

/**
 * completeJobs.lua's arguments: the largest result its SUCCESS events carry (RedisConn's
 * eventResultMax), the format-3 flag (leanMoves), the count, then per job the layout COMPLETION (wire.ts): the
 * result as JSON, the job's datalake entry but for its finish time, which the script adds
 * (Redis's time), its start, and its created_at, queue and parent as its claim read them, when
 * the job as claimed is known ('': lib.lua makes or reads them)
 */
export function completionArgs(completions: readonly Completion[], format: MoveFormat): WireArg[] {
  const args: WireArg[] = [format.eventResultMax, format.leanMoves ? '1' : '', completions.length];
  for (const { jobId, token, result, job: j } of completions) {
    const value = JSON.stringify(result ?? null);
    if (j && j.startedAt !== null) {
      const entry = lakeEntryUnfinished(
        jobId,
        j.type,
        j.queue,
        'SUCCESS',
        value,
        '',
        j.attempts,
        j.initiatedBy ?? '',
        j.handledBy ?? '',
        j.createdAt,
        j.startedAt,
      );
      pushRow(args, COMPLETION, {
        id: jobId,
        token,
        result: wireJson(value),
        lake_entry: wireJson(entry),
        started_at: j.startedAt,
        created_at: j.createdAt,
        queue: j.queue,
        parent_id: j.parentId ?? '',
      });
    } else {
      pushRow(args, COMPLETION, {
        id: jobId,
        token,
        result: wireJson(value),
        lake_entry: '',
        started_at: '',
        created_at: '',
        queue: '',
        parent_id: '',
      });
    }
  }
  return args;
}

/** the URL without its password, for messages and logs */
export function redactUrl(url: string): string {
  if (url.includes(',')) return seedUrls(url).map(redactUrl).join(',');
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * One entry of the event log holds the changes of one script: pairs of job id and
 * "STATE" or "STATE completed total" (see lib.lua's emit).
 */
export function decodeEvents(id: string, flat: string[]): JobEvent[] {
  const at = Number(id.slice(0, id.indexOf('-')));
  const out: JobEvent[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    // "STATE", "STATE completed total", either then "\n" and a SUCCESS's result (lib.lua's emit)
    const value = flat[i + 1];
    const nl = value.indexOf('\n');
    const [state, completed, total] = (nl < 0 ? value : value.slice(0, nl)).split(' ');
    const e: JobEvent = {
      id,
      jobId: flat[i],
      state: state as JobState,
      progress: total === undefined ? null : { completed: Number(completed), total: Number(total) },
      at,
    };
    if (nl >= 0) e.result = jsonField(value.slice(nl + 1));
    out.push(e);
  }
  return out;
}

/** how often readEvents reads every shard's stream again while nothing came */
export const EVENTS_POLL_MS = 100;

/** an id and its time (an index's score) */
export type Found = { id: string; at: number };

/** ZRANGE ... WITHSCORES's flat answer as ids and scores */
export function scored(flat: string[]): Found[] {
  const out: Found[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i], at: Number(flat[i + 1]) });
  return out;
}

/** newest first, then by id descending: the order ZRANGE REV gives one index */
export function newestFirst(found: Found[]): Found[] {
  return found.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** completions by the shard of their job */
export function groupByShard<C extends { jobId: string }>(items: C[]): Map<number, C[]> {
  const out = new Map<number, C[]>();
  for (const c of items) {
    const s = shardOfId(c.jobId);
    const g = out.get(s);
    if (g) g.push(c);
    else out.set(s, [c]);
  }
  return out;
}

/** two claims' jobs as one; the next retry due is the earlier */
export function merged({ result: a, cpu: aCpu }: KindClaim, { result: b, cpu: bCpu }: KindClaim): KindClaim {
  const next =
    a.nextRunAt === null ? b.nextRunAt : b.nextRunAt === null ? a.nextRunAt : Math.min(a.nextRunAt, b.nextRunAt);
  return { result: { nextRunAt: next, now: Math.max(a.now, b.now), jobs: [...a.jobs, ...b.jobs] }, cpu: aCpu + bCpu };
}

/** failJob.lua's delayMs: a retry's, else unused */
export const retryDelayOf = (target: FailTarget): number => (target.to === 'RETRY' ? target.delayMs : 0);

export function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
}

/** how full a Redis is: used memory over maxmemory (0 without a maxmemory) */
export function fill(info: Record<string, string>): number {
  const max = Number(info.maxmemory ?? 0);
  return max > 0 ? usedMemory(info) / max : 0;
}

/** the memory maxmemory is checked against (INFO memory) */
export function usedMemory(info: Record<string, string>): number {
  return Number(info.used_memory ?? 0) - Number(info.mem_not_counted_for_evict ?? 0);
}

/** INFO's "field:value" lines as a record */
export function pairsFromInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** the state of the job record at `key`, as every reader takes it (stateOfRecord); null: no job's record */
export const recordState = (c: RedisConn, key: string): Promise<JobState | null> =>
  c
    .cmd<(string | null)[]>(['HMGET', key, 'state', 'created_at'])
    .then(([state, created]) => stateOfRecord(state, created));

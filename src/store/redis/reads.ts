/** Jobs read (store.reads): one, a page of an index or a state merged across the shards, a parent's children, the counts. */
import { Job, JOB_STATES, JobState } from '../../core/job';
import { COUNTED_NOT_INDEXED_LIST, FINAL_LIST } from '../../core/states';
import { StoreOutOfMemoryError } from '../../core/errors';
import { decodeJob, pairsToRecord, stateOfRecord, updatedAtOf } from '../codec';
import { isStorableJobId } from '../common';
import type { ReadsStore } from '../concerns';
import { RedisKeys } from '../keys';
import { OMITTED } from '../wire';
import { FILTER_SCAN, listMatches, type FinishedCounts, type ListQuery, type ListResult } from '../types';
import { COUNTED_NOT_INDEXED, QUEUE_SCAN, QUEUE_SCAN_PAGE, scored, newestFirst, type Found } from './shared';
import type { RedisConn } from './conn';
import { waitLists } from './placement';

export class RedisReads implements ReadsStore {
  constructor(private readonly c: RedisConn) {}

  /** recording checked_by is best-effort: an out-of-memory Redis refuses it, and the job is read all the same */
  async check(jobId: string, checkedBy: string): Promise<Job | null> {
    let flat: string[];
    try {
      flat = await this.c.run<string[]>('checkJob', [jobId, checkedBy], this.c.at(jobId));
    } catch (err) {
      if (!(err instanceof StoreOutOfMemoryError)) throw err;
      return this.job(jobId);
    }
    return flat.length ? decodeJob(pairsToRecord(flat), jobId) : null;
  }

  async list(q: ListQuery): Promise<ListResult> {
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    const state = q.state;
    if (q.type !== undefined || q.queue !== undefined) return this.listFiltered(q, offset, limit);
    if (state && COUNTED_NOT_INDEXED.has(state)) return this.listQueuedInState(state, offset, limit);
    // below format 3 the all-jobs index holds every top-level job (src/store/format.ts)
    if (state || !this.c.cpuLists) return this.listIndex((k) => (state ? k.state(state) : k.jobs), offset, limit);
    return this.listAll(offset, limit);
  }

  /**
   * a page of all top-level jobs, newest created first (then by id, as ZRANGE REV orders a tie):
   * every shard's allOf merged; the total is the counters' (countByState's sum)
   */
  private async listAll(offset: number, limit: number): Promise<ListResult> {
    const want = offset + limit;
    const per = await this.c.perShard((k) => this.allOf(k, want));
    const page = newestFirst(per.flatMap((p) => p.found))
      .slice(offset, want)
      .map((f) => f.id);
    return { total: per.reduce((t, p) => t + p.total, 0), jobs: await this.jobs(page) };
  }

  /**
   * one shard's top-level jobs: how many (its counters) and its first `want` by creation, each id
   * once. The all-jobs index holds them all but, at format 3, the queued jobs in a plain wait list
   * (lib-state.lua's flush says why a queued one may be in both): those are PENDING and STARTED
   * jobs, found in the queues as listQueuedInState finds them, by their created_at.
   *
   * Read in the order a job moves, so one that moves while they are read is found where it went:
   * the wait lists, then the lease sets, then the index (a finished job's entry stays until the
   * job goes; one sent back to its queue keeps it). A job found in a queue counts in whatever
   * state it is in by the time its record is read.
   */
  private async allOf(k: RedisKeys, want: number): Promise<{ total: number; found: Found[] }> {
    const [counts, queues] = await Promise.all([
      this.stateCountsOf(k),
      want > 0 ? this.c.cmd<string[]>(['SMEMBERS', k.queues]) : Promise.resolve([]),
    ]);
    const queued: Found[][] = [];
    for (const state of COUNTED_NOT_INDEXED_LIST)
      // PENDING's wait lists, then STARTED's lease sets
      queued.push(...(await Promise.all(queues.map((q) => this.queuedOf(k, q, state, want, 'all')))));
    const indexed = want > 0 ? await this.c.cmd<string[]>(['ZRANGE', k.jobs, 0, want - 1, 'REV', 'WITHSCORES']) : [];
    const found = scored(indexed);
    const seen = new Set(found.map((f) => f.id));
    for (const f of queued.flat())
      if (!seen.has(f.id)) {
        seen.add(f.id);
        found.push(f);
      }
    return { total: JOB_STATES.reduce((t, s) => t + counts[s], 0), found };
  }

  /**
   * a page of the jobs of a type and/or queue: each shard's FILTER_SCAN newest of the index
   * (PENDING and STARTED: as listQueuedInState finds them) matched by their records' type and
   * queue, merged newest first; total counts the matches (partial: the index held more)
   */
  private async listFiltered(q: ListQuery, offset: number, limit: number): Promise<ListResult> {
    const state = q.state;
    const per = await this.c.perShard(async (k) => {
      let total: number;
      let found: Found[];
      if ((!state && this.c.cpuLists) || (state && COUNTED_NOT_INDEXED.has(state))) {
        ({ total, found } = state
          ? await this.queuedInStateOf(k, state, FILTER_SCAN)
          : await this.allOf(k, FILTER_SCAN));
        found = newestFirst(found).slice(0, FILTER_SCAN);
      } else {
        const key = state ? k.state(state) : k.jobs;
        const [n, flat] = await Promise.all([
          this.c.cmd<number>(['ZCARD', key]),
          this.c.cmd<string[]>(['ZRANGE', key, 0, FILTER_SCAN - 1, 'REV', 'WITHSCORES']),
        ]);
        total = n;
        found = scored(flat);
      }
      const fields: (string | null)[][] = [];
      for (let i = 0; i < found.length; i += QUEUE_SCAN_PAGE)
        fields.push(
          ...(await Promise.all(
            found
              .slice(i, i + QUEUE_SCAN_PAGE)
              .map((f) => this.c.cmd<(string | null)[]>(['HMGET', k.job(f.id), 'type', 'queue'])),
          )),
        );
      const matches = found.filter((_, i) => listMatches(q, fields[i][0], fields[i][1] ?? OMITTED.queue));
      return { partial: total > found.length, matches };
    });
    const all = newestFirst(per.flatMap((p) => p.matches));
    const page = all.slice(offset, offset + limit).map((f) => f.id);
    return { total: all.length, jobs: await this.jobs(page), partial: per.some((p) => p.partial) };
  }

  /**
   * a page of an index (a zset per shard), newest first: each shard's first offset + limit
   * merged by score (ties by id, as ZRANGE REV orders them); with one shard, the page itself
   */
  async listIndex(keyOf: (k: RedisKeys) => string, offset: number, limit: number): Promise<ListResult> {
    const from = this.c.shards.length === 1 ? offset : 0;
    const per = await this.c.perShard((k) =>
      Promise.all([
        this.c.cmd<number>(['ZCARD', keyOf(k)]),
        limit > 0
          ? this.c.cmd<string[]>(['ZRANGE', keyOf(k), from, offset + limit - 1, 'REV', 'WITHSCORES'])
          : Promise.resolve([]),
      ]),
    );
    const found = per.flatMap(([, flat]) => scored(flat));
    const page = newestFirst(found).slice(offset - from, offset - from + limit);
    return { total: per.reduce((t, [n]) => t + n, 0), jobs: await this.jobs(page.map((f) => f.id)) };
  }

  async children(parentId: string): Promise<Job[]> {
    if (!isStorableJobId(parentId)) return [];
    return this.jobs(await this.c.cmd<string[]>(['LRANGE', this.c.at(parentId).children(parentId), 0, -1]));
  }

  async log(jobId: string): Promise<string[]> {
    if (!isStorableJobId(jobId)) return [];
    return this.c.cmd<string[]>(['LRANGE', this.c.at(jobId).jobLog(jobId), 0, -1]);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const per = await this.c.perShard((k) => this.stateCountsOf(k));
    return Object.fromEntries(JOB_STATES.map((s) => [s, per.reduce((t, counts) => t + counts[s], 0)])) as Record<
      JobState,
      number
    >;
  }

  /** one shard's top-level jobs by state: each state's index and the queued ones counted */
  private async stateCountsOf(k: RedisKeys): Promise<Record<JobState, number>> {
    const [indexed, counted] = await Promise.all([
      Promise.all(JOB_STATES.map((s) => this.c.cmd<number>(['ZCARD', k.state(s)]))),
      this.queuedStateCounts(k),
    ]);
    return Object.fromEntries(JOB_STATES.map((s, i) => [s, indexed[i] + (counted[s] ?? 0)])) as Record<
      JobState,
      number
    >;
  }

  /** how many queued top-level jobs of a shard are PENDING and STARTED (lib.lua counts them: the index leaves them to the queues) */
  private async queuedStateCounts(k: RedisKeys): Promise<Partial<Record<JobState, number>>> {
    const states = [...COUNTED_NOT_INDEXED];
    const values = await this.c.cmd<(string | null)[]>(['HMGET', k.counts, ...states]);
    return Object.fromEntries(states.map((s, i) => [s, Number(values[i] ?? 0)]));
  }

  /**
   * PENDING or STARTED jobs, newest change first (then by id, as ZRANGE REV orders a tie): those the index holds (jobs on no queue: a
   * prime count's parent) and the top-level ones the queues hold, PENDING from each wait list
   * (most recently queued first, looked at up to QUEUE_SCAN entries deep: chunks and retries
   * share the list), STARTED from each lease set (as many as are held); every shard's, merged.
   */
  private async listQueuedInState(state: JobState, offset: number, limit: number): Promise<ListResult> {
    const want = offset + limit;
    const per = await this.c.perShard((k) => this.queuedInStateOf(k, state, want));
    const page = newestFirst(per.flatMap((p) => p.found))
      .slice(offset, want)
      .map((f) => f.id);
    return { total: per.reduce((t, p) => t + p.total, 0), jobs: await this.jobs(page) };
  }

  /** one shard's part of listQueuedInState: its count and its first `want` jobs in `state` */
  private async queuedInStateOf(
    k: RedisKeys,
    state: JobState,
    want: number,
  ): Promise<{ total: number; found: Found[] }> {
    const [indexedTotal, indexed, counted, queues] = await Promise.all([
      this.c.cmd<number>(['ZCARD', k.state(state)]),
      want > 0
        ? this.c.cmd<string[]>(['ZRANGE', k.state(state), 0, want - 1, 'REV', 'WITHSCORES'])
        : Promise.resolve([]),
      this.queuedStateCounts(k),
      this.c.cmd<string[]>(['SMEMBERS', k.queues]),
    ]);
    const found: Found[] = scored(indexed);
    if (want > 0)
      for (const matches of await Promise.all(queues.map((q) => this.queuedOf(k, q, state, want, 'inState'))))
        found.push(...matches);
    return { total: indexedTotal + (counted[state] ?? 0), found };
  }

  /**
   * the top-level jobs a queue holds in `state` (PENDING: its wait lists, looked at up to
   * QUEUE_SCAN entries deep until `want` are found, its groups' and its delayed set's first;
   * STARTED: its lease set). `inState`: those still in `state` when their records are read, at
   * their last change (codec.ts updatedAtOf: a claim at format 3 writes started_at alone);
   * `all`: every top-level job found there, whatever its state by then, at its creation (allOf)
   */
  private async queuedOf(
    k: RedisKeys,
    queue: string,
    state: JobState,
    want: number,
    which: 'inState' | 'all',
  ): Promise<Found[]> {
    /** the top-level jobs among ids that `which` takes (in `state`, or any), with their time */
    const inState = async (ids: string[]): Promise<Found[]> => {
      const fields = await Promise.all(
        ids.map((id) =>
          this.c.cmd<(string | null)[]>([
            'HMGET',
            k.job(id),
            'state',
            'parent_id',
            'updated_at',
            'started_at',
            'created_at',
          ]),
        ),
      );
      return ids.flatMap((id, i) => {
        const [stored, parent, updated, started, created] = fields[i];
        const s = stateOfRecord(stored, created);
        if (parent || (which === 'all' ? s === null : s !== state)) return [];
        const at =
          which === 'all'
            ? Number(created)
            : updatedAtOf({ updated_at: updated, started_at: started, created_at: created });
        return [{ id, at: at ?? 0 }];
      });
    };
    if (want <= 0) return [];
    if (state === 'STARTED') return inState(await this.c.cmd<string[]>(['ZRANGE', k.active(queue), 0, -1]));
    // pages about twice the page asked for: most of a wait list's head is what was asked for, unless chunks crowd it
    const pageSize = Math.min(QUEUE_SCAN_PAGE, Math.max(50, want * 2));
    const matches: Found[] = [];
    for (const list of waitLists(k, queue)) {
      for (let from = 0; matches.length < want && from < QUEUE_SCAN; from += pageSize) {
        const ids = await this.c.cmd<string[]>(['LRANGE', list, from, from + pageSize - 1]);
        if (ids.length === 0) break;
        matches.push(...(await inState(ids))); // whole pages: a batch queued at one time sorts by id, as the index does
      }
    }
    // grouped jobs wait in their groups' zsets (docs/flow-control.md): the first groups of each kind
    for (const cpu of ['', '1']) {
      for (const g of await this.c.cmd<string[]>(['LRANGE', k.groups(queue, cpu), 0, 99])) {
        if (matches.length >= want) break;
        matches.push(
          ...(await inState(await this.c.cmd<string[]>(['ZRANGE', k.groupWait(queue, cpu, g), 0, pageSize - 1]))),
        );
      }
    }
    // delayed PENDING jobs wait in the delayed set
    if (state === 'PENDING')
      matches.push(
        ...(await inState(await this.c.cmd<string[]>(['ZRANGE', k.delayed(queue), 0, QUEUE_SCAN_PAGE - 1]))),
      );
    return matches;
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const per = await this.c.perShard((k) =>
      Promise.all(FINAL_LIST.map((st) => this.c.cmd<number>(['ZCOUNT', k.state(st), sinceMs, '+inf']))),
    );
    return Object.fromEntries(FINAL_LIST.map((s, i) => [s, per.reduce((t, c) => t + c[i], 0)])) as FinishedCounts;
  }

  /** the jobs of these ids that exist; an id no job can have (isStorableJobId) is not looked up: it would name a key beside a job's record */
  async jobs(ids: string[]): Promise<Job[]> {
    const ok = ids.filter(isStorableJobId);
    const replies = await Promise.all(ok.map((id) => this.c.cmd<string[]>(['HGETALL', this.c.at(id).job(id)])));
    return replies.flatMap((r, i) => (r.length > 0 ? [decodeJob(pairsToRecord(r), ok[i])] : []));
  }

  async job(jobId: string): Promise<Job | null> {
    const [job] = await this.jobs([jobId]);
    return job ?? null;
  }
}

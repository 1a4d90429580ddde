/**
 * Every Redis key name is built here (BullMQ's QueueKeys): nothing else assembles a key string.
 * Every name starts with a base, a hash tag and a colon, and every script gets one base as
 * KEYS[1] and touches only keys under it: one slot. The Lua scripts build the same names in
 * src/store/lua/lib.lua; test/unit/keys.test.ts checks the two agree.
 *
 * The bases (README "Architecture: keys and shards"):
 *   `{prefix}:`        shard 0, and what the whole prefix shares: config, format, bots, batches
 *   `{prefix:<tag>}:`  shard N > 0 (its tag is kept in shard 0's config, `shard_tags`)
 *   on a Cluster also `{prefix:abacus}:`, `{prefix:rate}:`, `{prefix:locks}:`, `{prefix:nodes}:`
 *   (on a plain Redis these stay under `{prefix}:`, where they always were)
 */
export function keyBase(prefix: string): string {
  return `{${prefix}}:`;
}

/** the base of shard `tag` ('' is shard 0: today's `{prefix}:`) or of a group of cluster-wide keys */
export function tagBase(prefix: string, tag: string): string {
  return tag === '' ? keyBase(prefix) : `{${prefix}:${tag}}:`;
}

/** the shard an id names: `s<N>-<uuid>` is shard N, any other id shard 0 */
export function shardOfId(id: string): number {
  const m = /^s(\d{1,4})-/.exec(id);
  return m ? Number(m[1]) : 0;
}

/**
 * a flow node's job id: its UUID's version digit is 8 (a UUID of its own kind) where other jobs'
 * is 4 (and other new jobs' ids are no UUID: core/ids.ts newJobId), so the hot paths (a claim, a
 * completion) read a flow's fields only for the ids that can have them (lib.lua's isFlowNode, its
 * twin). The '-' before the digit keeps a short id of shard 8 or 18 (`s18-…`) from looking like one
 */
export const asFlowNodeId = (id: string): string => id.slice(0, -22) + '8' + id.slice(-21);
export const isFlowNodeId = (id: string): boolean =>
  id.charAt(id.length - 22) === '8' && id.charAt(id.length - 23) === '-';

/** the id prefix of jobs made in shard N ('' for shard 0, whose ids are as they always were) */
export function shardIdPrefix(shard: number): string {
  return shard === 0 ? '' : `s${shard}-`;
}

export function redisKeys(prefix: string) {
  return keysAt(keyBase(prefix));
}

/** every key name under one base (a shard's, or a group's) */
export function keysAt(base: string) {
  return {
    base,
    /**
     * never written: every script declares it with the base (KEYS[1], never written either), so
     * a Cluster refuses a script with TRYAGAIN while its slot is half moved (scripts.ts)
     */
    guard: `${base}guard`,
    /** hash: the job record */
    job: (id: string) => `${base}job:${id}`,
    /** list: a job's log lines (its handler's ctx.log), the newest JOB_LOG_LINES, kept JOB_LOG_TTL_MS after the last */
    jobLog: (id: string) => `${base}job:${id}:log`,
    /** list: a parent's child ids, in chunk order */
    children: (id: string) => `${base}job:${id}:children`,
    /** hash: chunk index → chunk result (recorded once per index) */
    chunkResults: (id: string) => `${base}job:${id}:results`,
    /** list: job ids ready to run (LPUSH in, RPOP out) */
    wait: (queue: string) => `${base}q:${queue}:wait`,
    /** list: the job ids of priority p (0..9, not the default 5: that is `wait`) ready to run */
    waitAt: (queue: string, p: number | string) =>
      String(p) === '5' ? `${base}q:${queue}:wait` : `${base}q:${queue}:wait:${p}`,
    /**
     * zset: the priorities other than the default whose wait lists may hold jobs (member and
     * score: the priority), and the member 'paused' (score -1) while the queue is paused
     */
    ready: (queue: string) => `${base}q:${queue}:ready`,
    /**
     * the CPU lists (docs/architecture.md "What a worker claims"): a queue's CPU jobs (a prime chunk, a module's
     * `cpu: true` type; the record's field cpu = '1') wait in lists of their own, which a worker
     * takes from only for its free pool threads. They have the ordinary lists' shape: a list per
     * priority, a zset of the priorities other than the default that may hold jobs, a marker.
     */
    cpuWait: (queue: string) => `${base}q:${queue}:cpuwait`,
    cpuWaitAt: (queue: string, p: number | string) =>
      String(p) === '5' ? `${base}q:${queue}:cpuwait` : `${base}q:${queue}:cpuwait:${p}`,
    cpuReady: (queue: string) => `${base}q:${queue}:cpuready`,
    cpuMarker: (queue: string) => `${base}q:${queue}:cpumarker`,
    /** zset: held job id → lease deadline (ms) */
    active: (queue: string) => `${base}q:${queue}:active`,
    /**
     * hash: when a reaper last looked at the queue's lapsed leases (`at`, Redis's time), the lease
     * it reaps by (`lease_ms`), and the grace after a gap (`gap_from`, `grace_until`): lib-state.lua's reapableUpTo
     */
    reaper: (queue: string) => `${base}q:${queue}:reaper`,
    /** zset: job id → when it may run again (RETRY) */
    delayed: (queue: string) => `${base}q:${queue}:delayed`,
    /** zset with one member: a consumer blocks on it (BZPOPMIN) until there is work */
    marker: (queue: string) => `${base}q:${queue}:marker`,
    /** list: the ring of a queue's groups with waiting jobs of a kind (cpu '1': CPU jobs), each once (docs/flow-control.md) */
    groups: (queue: string, cpu = '') => `${base}q:${queue}:${cpu === '1' ? 'cpugroups' : 'groups'}`,
    /** zset: a group's waiting jobs of a kind, id → priority * 1e14 + a sequence (lib-state.lua pushGrouped) */
    groupWait: (queue: string, cpu: string, group: string) =>
      `${base}q:${queue}:${cpu === '1' ? 'cpug' : 'g'}:${group}`,
    /** string: the sequence that orders grouped jobs */
    groupSeq: (queue: string) => `${base}q:${queue}:gseq`,
    /** hash: a held grouped job's id → its group */
    groupHeld: (queue: string) => `${base}q:${queue}:gheld`,
    /** hash: group → how many of its jobs are held */
    groupRunning: (queue: string) => `${base}q:${queue}:grunning`,
    /**
     * hash: the queue's limits: v '1' while any is set, concurrency (this shard's share), group_concurrency,
     * g:<group>; rates as 'max:per_ms': rate (this shard's share), rate_all (the whole), group_rate, gr:<group>;
     * holds until a time (ms) after a handler's rate_limited: hold (the queue's), hold:<group>
     */
    flow: (queue: string) => `${base}q:${queue}:flow`,
    /** string: how many times a claim was held back by a limit (a counter) */
    heldBack: (queue: string) => `${base}q:${queue}:heldback`,
    /** zset with a TTL: the start times of a rate-limited queue's jobs in its window, token → time (ms) */
    rateLog: (queue: string) => `${base}q:${queue}:ratelog`,
    /** zset with a TTL: the same for one group */
    groupRateLog: (queue: string, group: string) => `${base}q:${queue}:gratelog:${group}`,
    /** string: how many times a claim was held back by a rate limit or a hold (a counter) */
    heldBackRate: (queue: string) => `${base}q:${queue}:heldrate`,
    /**
     * zset: top-level job id → time of its last change, one per state; not the queued jobs that
     * are PENDING or STARTED (their queue's wait list and lease set hold them: see `counts`)
     */
    state: (state: string) => `${base}state:${state}`,
    /** hash: PENDING, STARTED → how many queued top-level jobs are in that state (lib.lua's COUNTED_NOT_INDEXED) */
    counts: `${base}counts`,
    /** zset: top-level job id → created at */
    jobs: `${base}jobs`,
    /** zset: dead job id → died at */
    dlq: `${base}dlq`,
    /** stream: every state and progress change */
    events: `${base}events`,
    /** zset: node id → last heartbeat, one per role */
    nodes: (role: string) => `${base}nodes:${role}`,
    /** string with a TTL: a node's heartbeat and info */
    node: (role: string, nodeId: string) => `${base}node:${role}:${nodeId}`,
    /** string with a TTL: a cluster-wide lock */
    lock: (name: string) => `${base}lock:${name}`,
    /** string with a TTL: a one-shot marker (a scheduler's batch slot: made once however many run) */
    once: (name: string) => `${base}once:${name}`,
    /** hash {job, fp}: an idempotency key's job and its type and params; expires with the job's record */
    idem: (key: string) => `${base}idem:${key}`,
    /**
     * hash {job, mode, type, cap}: a debounce or throttle window (dedupeScope) and its job
     * (enqueueDeduped.lua); throttle: expires with the window; debounce: its job's wait and the result TTL after
     */
    dedupe: (scope: string) => `${base}dedupe:${scope}`,
    /** hash: a flow (src/store/lua/lib-flow.lua): name, state, total, done, succeeded, cancelled, created_at, finished_at, idem */
    flowRecord: (id: string) => `${base}flow:${id}`,
    /** hash: a flow's node id → its job id */
    flowNodes: (id: string) => `${base}flow:${id}:nodes`,
    /** hash: a flow's job id → its dependents' job ids, comma-separated */
    flowNext: (id: string) => `${base}flow:${id}:next`,
    /** hash: a flow's job id → its dependents' job ids in other shards, comma-separated (docs/flows.md "On a Redis Cluster") */
    flowFar: (id: string) => `${base}flow:${id}:far`,
    /** set: in a flow's home shard, the job ids of its nodes in other shards whose finish was counted */
    flowCounted: (id: string) => `${base}flow:${id}:counted`,
    /** zset: what a shard's finished flow nodes have still to tell other shards (an entry → when written) */
    flowOutbox: `${base}flowbox`,
    /** hash: a flow node's deps in other shards, dep job id → its outcome as delivered (counted once) */
    depsIn: (id: string) => `${base}job:${id}:depsin`,
    /** hash {flow, fp}: a flow's idempotency key; expires with the flow */
    flowIdem: (key: string) => `${base}flowidem:${key}`,
    /** zset: flow id → created at, the recent flows (an expired one is skipped when read) */
    flows: `${base}flows`,
    /** hash: schedule name → the schedule as JSON (core/schedule.ts) */
    schedules: `${base}schedules`,
    /** set: every queue a job was ever put on (the scheduler reaps them all) */
    queues: `${base}queues`,
    /** hash: a bot's record */
    bot: (id: string) => `${base}bot:${id}`,
    /** zset: bot id → registered at */
    bots: `${base}bots`,
    /** zset: bot id → last heartbeat, for the bots that are up */
    botsUp: `${base}bots:up`,
    /** hash: when markBotsDown last looked (`at`), and the grace after a gap: lib-state.lua's reapableUpTo */
    botsReaper: `${base}bots:reaper`,
    /** hash: sha256 of a bot token → bot id */
    botTokens: `${base}bots:tokens`,
    /** string: the format version of everything under the prefix (src/store/format.ts) */
    format: `${base}format`,
    /** hash: cluster-wide settings (what the datalake records, how long it keeps days) */
    config: `${base}config`,
    /** list: a UTC day's datalake records, one JSON object each, in the order they finished */
    lake: (day: string) => `${base}datalake:${day}`,
    /** hash: a UTC day's datalake counters (success, failure, duration sums) */
    lakeStats: (day: string) => `${base}datalake:${day}:stats`,
    /** zset: datalake day → its start (ms) */
    lakeDays: `${base}datalake:days`,
    /** stream: finished jobs' records not yet written to the day files, one entry per script and day ({day, r, r, ...}) */
    lakeBuffer: `${base}datalake:buffer`,
    /** zset with a TTL: a rate-limit bucket's requests in the window, member → time (ms) */
    rate: (bucket: string) => `${base}rate:${bucket}`,
    /** hash {tokens, at} with a TTL: a quota's budget (a token bucket: spendBudget.lua) */
    budget: (bucket: string) => `${base}budget:${bucket}`,
    /** zset with a TTL: a principal's jobs that may not have finished, id → when last looked at (the jobs quota) */
    owned: (owner: string) => `${base}owned:${owner}`,
    /** hash with a TTL: one bucket of the dashboard's history, by its start (ms): counts and samples */
    history: (start: number | string) => `${base}history:${start}`,
    /** string: the abacus's running sum, a signed 64-bit integer (INCRBY) */
    abacus: `${base}abacus`,
  };
}
export type RedisKeys = ReturnType<typeof keysAt>;

/**
 * The wire format between the Redis adapter and its Lua scripts, in one place: every positional
 * layout (a new job's row of ARGV, a completion's, a claimed job's values, what load() reads)
 * and every result code. The scripts read them by name: scripts.ts puts luaConstants() at the
 * top of each, so a layout changed here changes on both sides at once
 * (test/unit/wire.test.ts checks no script spells one by number).
 */
import { LAKE_ENTRY_FIELDS } from '../core/datalake';
import { DEFAULT_QUEUE } from '../core/job';

/** a new job as enqueueJobs.lua takes it: these values, in this order, per job */
export const ROW = [
  'id',
  'type',
  'queue',
  'params',
  'initiated_by',
  'max_attempts',
  'parent_id',
  'chunk_index',
  'total',
  'priority',
  'delay_ms',
  'timeout_ms',
  'idem_key',
  'cpu',
  'principal',
  'group',
  'runs_on',
  'flow_id',
  'deps_left',
  'trace',
] as const;
export type RowField = (typeof ROW)[number];
/** ROW's first fields: the row of a job with no options (no parent, chunk, total, priority, delay, timeout, idempotency key, CPU lists) */
export const PLAIN_ROW = ROW.slice(0, ROW.indexOf('max_attempts') + 1);
/** the rest of ROW: a job's options, sent only when one of the batch has one */
export const ROW_OPTIONS = ROW.slice(PLAIN_ROW.length);

/**
 * the row's fields every new record has (id: the key's; max_attempts: always written) or never
 * has as such (delay_ms: the script's run_at); every other field of ROW is optional
 */
const NOT_OPTIONAL = [
  'id',
  'type',
  'queue',
  'params',
  'max_attempts',
  'delay_ms',
] as const satisfies readonly RowField[];
type OptionalField = Exclude<RowField, (typeof NOT_OPTIONAL)[number]>;

/**
 * a row's fields a new job's record has only when they have a value (lib.lua's enqueueRows, and
 * the memory adapter's newJobFields): ROW's but NOT_OPTIONAL, in ROW's order, so a new field of
 * ROW is optional without a second list
 */
export const OPTIONAL_FIELDS: readonly OptionalField[] = ROW.filter(
  (f): f is OptionalField => !(NOT_OPTIONAL as readonly RowField[]).includes(f),
);

/**
 * Format 3 (src/store/format.ts): a new record leaves out `queue` and `max_attempts` when they hold
 * these values (32 bytes of a waiting job's ~250), and every reader, in Lua and TypeScript, reads
 * a missing one as these. Fixed by the format, not the configurable defaults: a record written
 * today reads the same whatever a later version's defaults. A job on no queue (a prime count's
 * parent) keeps `queue` '', written.
 */
export const OMITTED = { queue: DEFAULT_QUEUE, max_attempts: 3 } as const;

/**
 * a debounce or throttle window as enqueueDeduped.lua takes it, before its job's row: the window's
 * key as the store keeps it (dedupeScope), its mode, its length, the debounce's cap ('' none),
 * and the key as its caller gave it (the job's record shows it)
 */
export const DEDUPE = ['scope', 'mode', 'ttl_ms', 'max_wait_ms', 'key'] as const;

/**
 * a completion as completeJobs.lua takes it: the job's datalake entry but for its finish time, and
 * its start ('' and '': made by the script); then what its claim read of the job and what it was
 * claimed from (ACK_CLAIMED: created_at '' when the caller does not say, and the script reads them)
 */
export const COMPLETION = [
  'id',
  'token',
  'result',
  'lake_entry',
  'started_at',
  'created_at',
  'queue',
  'parent_id',
] as const;

/**
 * what a claim answers per job (lib.lua's claimFrom): the fields its consumer cannot know, as
 * they are after the claim. The first nine are read by one HMGET in this order; the script puts
 * the id in place of the state, and the priority (its wait list's) and the token are its own.
 */
export const CLAIM = [
  'id',
  'attempts',
  'type',
  'params',
  'max_attempts',
  'parent_id',
  'created_at',
  'initiated_by',
  'timeout_ms',
  'deps',
  'trace',
  'group',
  'flow_id',
  'priority',
  'token',
] as const;

/**
 * what the claim's HMGET reads: CLAIM up to timeout_ms, the state where the id goes. A flow node's
 * deps are read by an HGET of their own, only for a flow node's id (lib.lua's isFlowNode); the
 * trace, the group (an attempt's span's attributes) and the flow (a flow node's span links to its
 * deps') by an HMGET of their own, only for a claim that asks for them (CLAIM_ARGS' trace): a
 * field a job lacks costs HMGET a scan of the record, and most jobs have none of them
 */
export const CLAIM_READ = ['state', ...CLAIM.slice(1, CLAIM.indexOf('deps'))] as const;

/**
 * a claim's arguments (claimJobs.lua's, completeAndClaim.lua's after the completions): max_cpu is
 * how many CPU jobs it takes besides max others, or -1 for CPU jobs counted in max (after the others);
 * trace '1': the claim answers each job's trace (a consumer that records spans), '' not; rate_room:
 * on a Cluster shard other than the first, how many its claim reserved in the queue's rate log
 * (reserveRate.lua), -1 for none; lean '1': the prefix is at format 3, whose claims leave a job's
 * updated_at out (lib.lua's leanMoves)
 */
export const CLAIM_ARGS = [
  'queue',
  'consumer',
  'max',
  'max_cpu',
  'lease_ms',
  'token_base',
  'trace',
  'rate_room',
  'lean',
] as const;

/**
 * what a completion reads of its job (lib.lua's completeJob: a held job is never a parent): the
 * state and token it checks, and the idempotency key, which its claim did not read; a flow node's
 * flow_id is read on its own, only for a flow node's id (lib.lua's isFlowNode)
 */
export const ACK = ['state', 'token', 'idem_key'] as const;

/**
 * what a completion reads besides when its caller did not pass them (a bot's; COMPLETION's
 * created_at ''). A worker passes what its claim read: a held job's fields that never change, and
 * the token, checked first, proves the claim they came from is the job's current one. Each field a
 * record lacks costs HMGET a scan of it (a waiting job of its own has no queue, parent or key
 * written): the three cost the completion 7,000 of its 95,000 instructions a job (bench:lua)
 */
export const ACK_CLAIMED = ['queue', 'parent_id', 'created_at'] as const;

/** the fields lib.lua's load() reads of a job for a transition (one HMGET, in this order) */
export const LOAD = [
  'state',
  'queue',
  'parent_id',
  'total',
  'completed',
  'token',
  'attempts',
  'max_attempts',
  'chunk_index',
  'created_at',
  'handled_by',
  'priority',
  'idem_key',
  'cpu',
  'group',
  'flow_id',
] as const;

/** what the scripts answer; RedisStore maps the codes to typed errors */
export const CODE = {
  OK: 1,
  MISSING: -1,
  TOKEN_MISMATCH: -2,
  /** a chunk's result that is not a number */
  BAD_RESULT: -3,
  CONFLICT: -4,
  /** the abacus's sum would leave the 64-bit range */
  OUT_OF_RANGE: -5,
  /** a bot's: the job is not the one the bot holds */
  NOT_HOLDER: -6,
  /** a bot's: no such bot */
  BOT_MISSING: -7,
  /** a bot's: the bot already holds a job */
  BOT_BUSY: -8,
  /** the job was cancelled (its holder's renewal, result or failure is refused) */
  CANCELLED: -9,
} as const;
export type Code = (typeof CODE)[keyof typeof CODE];

/** the layouts the scripts name, by their Lua name */
export const LAYOUTS: Record<string, readonly string[]> = {
  ROW,
  COMPLETION,
  CLAIM,
  CLAIM_ARGS,
  LOAD,
  ACK,
  ACK_CLAIMED,
  DEDUPE,
  LAKE: LAKE_ENTRY_FIELDS,
};

/** a layout's size as a Lua local, and its positions in a comment: the scripts' `NAME.field` are replaced by them (inlineLayouts) */
function luaLayout(name: string, fields: readonly string[]): string {
  return `-- ${name}: ${fields.map((f, i) => `${f} ${i + 1}`).join(', ')}\nlocal ${name}_SIZE = ${fields.length}`;
}

/**
 * a Lua function that reads these fields of a key in one HMGET (the names written out: no unpack
 * per call). By redis.pcall, which costs what redis.call does: a key that is not a hash (a count's
 * list of chunks) answers an error table, whose fields read as missing, so it reads as no job
 * instead of failing the script (lib.lua's jobKeyFor says why such a key could be asked for)
 */
function hmget(name: string, fields: readonly string[]): string {
  return `local function ${name}(key) return redis.pcall('HMGET', key, ${fields.map((f) => `'${f}'`).join(', ')}) end`;
}

/**
 * the Lua every script starts with (scripts.ts): each layout's size as `NAME_SIZE` (its
 * positions in a comment), the HMGETs of the claim's and load()'s fields, and each result code
 */
export function luaConstants(): string {
  return [
    '-- generated from src/store/wire.ts: the positional layouts (field and 1-based position) and the result codes',
    ...Object.entries(LAYOUTS).map(([name, fields]) => luaLayout(name, fields)),
    `local PLAIN_ROW_SIZE = ${PLAIN_ROW.length}`,
    `local OMITTED_QUEUE, OMITTED_MAX_ATTEMPTS = '${OMITTED.queue}', '${OMITTED.max_attempts}'`,
    `local OPTIONAL_FIELDS = { ${OPTIONAL_FIELDS.map((f) => `'${f}', ${ROW.indexOf(f) + 1}`).join(', ')} } -- name, position in ROW, ...`,
    hmget('readClaim', CLAIM_READ),
    hmget('readLoad', LOAD),
    hmget('readAck', ACK),
    hmget('readClaimed', ACK_CLAIMED),
    `local ${Object.keys(CODE).join(', ')} = ${Object.values(CODE).join(', ')}`,
    '',
  ].join('\n');
}

/**
 * a script's `NAME.field` (a layout of LAYOUTS) replaced by the field's position, when the
 * script is assembled: the scripts read positions by name and pay no table lookup per job for
 * it (a Lua table of each layout, made on every call, cost the claim ~5% of its Redis CPU). A
 * field a layout does not have is an error here, before the script is ever sent.
 */
export function inlineLayouts(source: string): string {
  return source.replace(/\b([A-Z][A-Z_]*)\.([a-z_]+)\b/g, (whole, name: string, field: string) => {
    const layout = LAYOUTS[name];
    if (!layout) return whole;
    const at = layout.indexOf(field);
    if (at < 0) throw new Error(`the layout ${name} has no field ${field}`);
    return String(at + 1);
  });
}

/** an argument of a command as the store sends it */
export type WireArg = string | number | Buffer;

/**
 * JSON at least this long (a job's params, a result) goes to node-redis as a Buffer: it writes a
 * Buffer as it is, where each string argument is copied into the command's one string and that
 * again into UTF-8 as it is written (with 10 kB params, 3× the producer's CPU per job). Shorter
 * JSON stays a string: a Buffer per argument costs more than it saves below a few hundred bytes.
 */
export const WIRE_BUFFER_MIN = 512;
export const wireJson = (json: string): string | Buffer => (json.length >= WIRE_BUFFER_MIN ? Buffer.from(json) : json);

/** a job's values in a layout, appended to `out` */
export function pushRow<F extends string>(out: WireArg[], layout: readonly F[], values: Record<F, WireArg>): void {
  for (const f of layout) out.push(values[f]);
}

/**
 * The wire format between the Redis adapter and its Lua scripts, in one place: every positional
 * layout (a new job's row of ARGV, a completion's, a claimed job's values, what load() reads)
 * and every result code. The scripts read them by name: scripts.ts puts luaConstants() at the
 * top of each, so a layout changed here changes on both sides at once
 * (test/unit/wire.test.ts checks no script spells one by number).
 */
import { LAKE_ENTRY_FIELDS } from '../core/datalake';

/** a new job as enqueueJobs.lua takes it: these values, in this order, per job */
export const ROW = [
  'id', 'type', 'queue', 'params', 'initiated_by', 'max_attempts', 'parent_id', 'chunk_index', 'total', 'priority', 'delay_ms', 'timeout_ms', 'idem_key',
] as const;
export type RowField = (typeof ROW)[number];

/** a completion as completeJobs.lua takes it: the job's datalake entry but for its finish time, and its start ('' and '': made by the script) */
export const COMPLETION = ['id', 'token', 'result', 'lake_entry', 'started_at'] as const;

/**
 * what a claim answers per job (lib.lua's claimFrom): the fields its consumer cannot know, as
 * they are after the claim. The first nine are read by one HMGET in this order; the script puts
 * the id in place of the state, and the priority (its wait list's) and the token are its own.
 */
export const CLAIM = ['id', 'attempts', 'type', 'params', 'max_attempts', 'parent_id', 'created_at', 'initiated_by', 'timeout_ms', 'priority', 'token'] as const;

/** what the claim's HMGET reads: CLAIM up to timeout_ms, the state where the id goes */
export const CLAIM_READ = ['state', ...CLAIM.slice(1, CLAIM.indexOf('priority'))] as const;

/** a claim's arguments (claimJobs.lua's, completeAndClaim.lua's after the completions) */
export const CLAIM_ARGS = ['queue', 'consumer', 'max', 'lease_ms', 'token_base'] as const;

/** the fields lib.lua's load() reads of a job for a transition (one HMGET, in this order) */
export const LOAD = ['state', 'queue', 'parent_id', 'total', 'completed', 'token', 'attempts', 'max_attempts', 'chunk_index', 'created_at', 'handled_by', 'priority', 'idem_key'] as const;

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

/** a layout as a Lua table: field -> its position (1-based) */
function luaTable(name: string, fields: readonly string[]): string {
  return `local ${name} = { ${fields.map((f, i) => `${f} = ${i + 1}`).join(', ')} }\nlocal ${name}_SIZE = ${fields.length}`;
}

/**
 * the Lua every script starts with (scripts.ts): each layout as `NAME = { field = position }`
 * and `NAME_SIZE`, the fields load() reads as a list, and each result code as a local
 */
export function luaConstants(): string {
  return [
    '-- generated from src/store/wire.ts: the positional layouts (field = 1-based position) and the result codes',
    luaTable('ROW', ROW),
    luaTable('COMPLETION', COMPLETION),
    luaTable('CLAIM', CLAIM),
    luaTable('CLAIM_ARGS', CLAIM_ARGS),
    luaTable('LOAD', LOAD),
    `local CLAIM_READ = { ${CLAIM_READ.map((f) => `'${f}'`).join(', ')} }`,
    `local LOAD_FIELDS = { ${LOAD.map((f) => `'${f}'`).join(', ')} }`,
    luaTable('LAKE', LAKE_ENTRY_FIELDS),
    `local ${Object.keys(CODE).join(', ')} = ${Object.values(CODE).join(', ')}`,
    '',
  ].join('\n');
}

/** a job's values in a layout, appended to `out` */
export function pushRow<F extends string>(out: (string | number)[], layout: readonly F[], values: Record<F, string | number>): void {
  for (const f of layout) out.push(values[f]);
}

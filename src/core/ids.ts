/**
 * The shapes of ids and names, checked wherever one enters (a route's path, a body, a CLI
 * argument or flag) before it reaches a store key. A job's key is `job:<id>` and the keys beside
 * it are `job:<id>:children` and `job:<id>:results`: an id taken as given could name those
 * instead (`GET /tasks/<id>:results/status` once wrote into a prime count's results). So:
 *
 * - ids wizard makes are accepted in exactly the shapes it makes them: a job's is 16 characters
 *   of lowercase base32 (newJobId), a UUID (a flow node's, a keyed bulk's, any job made before
 *   0.2), or either after `s<N>-` for shard N (src/store/keys.ts); a bot's is `bot-<UUID>`
 *   (src/core/bots.ts). Any other text names no job or bot (404).
 * - what users name (idempotency keys, queues, schedules) is written in one safe alphabet:
 *   letters, digits, `_`, `.` and `-`. No `:` (the separator of key names), no spaces, no braces.
 *
 * The Lua scripts refuse a key that is not a job's record as well (lib.lua's jobKeyFor), so an id
 * that got past these checks still names nothing.
 */
import { randomFillSync } from 'node:crypto';
import { z } from 'zod';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Crockford's base32 in lowercase: digits and letters without i, l, o and u */
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';
const SHORT = `[${BASE32.replace('0123456789', '0-9')}]{16}`;

/** a job id: 16 base32 characters or a UUID (shard 0), or either after s<N>- (shard N) */
export const JOB_ID = new RegExp(`^(s\\d{1,4}-)?(${SHORT}|${UUID})$`);
/** 32 hex digits (a hash's) in a UUID's shape: the ids derived from a key (a keyed bulk's, a populate's) */
export const uuidShaped = (hex: string): string =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;

/** a bot id: bot-<UUID> */
export const BOT_ID = new RegExp(`^bot-${UUID}$`);

export const isJobId = (s: string): boolean => JOB_ID.test(s);
export const isBotId = (s: string): boolean => BOT_ID.test(s);

/** how a job id is written, for messages and the docs */
export const JOB_ID_SHAPE = '16 characters of 0-9 and a-z, or a UUID, either maybe after s<N>-';

// random bytes drawn 4 kB at a time (as randomUUID caches its entropy): one per character, of which
// the low 5 bits are used, so an id is 80 random bits
const pool = Buffer.alloc(4000);
let used = pool.length;
const CODES = Uint8Array.from(BASE32, (ch) => ch.charCodeAt(0));
const at = (i: number) => CODES[pool[used + i] & 31];

/**
 * a new job id: 16 characters of lowercase base32, 80 random bits (a UUID has 122, a ULID 80 a
 * millisecond). What a collision would do: an enqueue whose id names a job still kept is taken
 * for a resent one and answered with that job; with 10 million jobs kept, one enqueue in about
 * 10^17 would meet one. Against a UUID it saves 20 bytes in each place Redis holds the id (the
 * record's key name, the wait list, the lease set, the events): a waiting job's bytes are most of
 * what a backlog costs (docs/benchmarks.md). One fromCharCode of 16 codes: a flat string, made in
 * a third of a randomUUID's time
 */
export function newJobId(): string {
  if (used + 16 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  // prettier-ignore
  const id = String.fromCharCode(at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9),
    at(10), at(11), at(12), at(13), at(14), at(15));
  used += 16;
  return id;
}

/** the alphabet of user-chosen names and keys */
export const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;
export const SAFE_ALPHABET = 'letters, digits, _ . -';

/** a name of min..max characters of the safe alphabet, whose every failure says so */
export function safeName(field: string, min: number, max: number) {
  const msg = `${field} must be ${min}-${max} of ${SAFE_ALPHABET}`;
  return z.string({ error: msg }).min(min, { error: msg }).max(max, { error: msg }).regex(SAFE_NAME, { error: msg });
}

/** is this a name of min..max characters of the safe alphabet? */
export const isSafeName = (s: string, min: number, max: number): boolean =>
  s.length >= min && s.length <= max && SAFE_NAME.test(s);

/** a path parameter that names a job: an id of the shape wizard makes (documented as its pattern) */
export const jobIdParam = z.string().regex(JOB_ID).describe(`a job id: ${JOB_ID_SHAPE}`);
/** a path parameter that names a bot */
export const botIdParam = z.string().regex(BOT_ID).describe('a bot id: bot-<UUID>');

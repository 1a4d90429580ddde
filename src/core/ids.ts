/**
 * The shapes of ids and names, checked wherever one enters (a route's path, a body, a CLI
 * argument or flag) before it reaches a store key. A job's key is `job:<id>` and the keys beside
 * it are `job:<id>:children` and `job:<id>:results`: an id taken as given could name those
 * instead (`GET /tasks/<id>:results/status` once wrote into a prime count's results). So:
 *
 * - ids wizard makes are accepted in exactly the shapes it makes them: a job's is a UUID, or
 *   `s<N>-<UUID>` for shard N (src/store/keys.ts); a bot's is `bot-<UUID>` (src/core/bots.ts).
 *   Any other text names no job or bot (404).
 * - what users name (idempotency keys, queues, schedules) is written in one safe alphabet:
 *   letters, digits, `_`, `.` and `-`. No `:` (the separator of key names), no spaces, no braces.
 *
 * The Lua scripts refuse a key that is not a job's record as well (lib.lua's jobKeyFor), so an id
 * that got past these checks still names nothing.
 */
import { z } from 'zod';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** a job id: a UUID (shard 0), or s<N>-<UUID> (shard N) */
export const JOB_ID = new RegExp(`^(s\\d{1,4}-)?${UUID}$`);
/** a bot id: bot-<UUID> */
export const BOT_ID = new RegExp(`^bot-${UUID}$`);

export const isJobId = (s: string): boolean => JOB_ID.test(s);
export const isBotId = (s: string): boolean => BOT_ID.test(s);

/** how a job id is written, for messages and the docs */
export const JOB_ID_SHAPE = 'a UUID, or s<N>-<UUID>';

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

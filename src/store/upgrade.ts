/**
 * A rolling upgrade's two looks at a prefix (`wizard upgrade status` and `finish`,
 * docs/operations.md "Upgrading: roll it"). Every role of this version says its version and the
 * newest format it reads in its heartbeat (format.ts roleStamp); a role of an older version says
 * neither, and the API of the previous release has no heartbeat at all. What every long-lived
 * role does have is its node id's claim (`lock:node:<role>:<id>`, commands/run-role.ts), so the
 * live roles are the claims and the heartbeats together, and one with no format in its heartbeat,
 * or a claim with no heartbeat, counts as older.
 *
 * `finish` takes the prefix from ROLLING_FORMAT to FORMAT_VERSION once no older role is alive:
 * it puts '<from>><to>' in the format key (the fence: a role of an older version that starts
 * now finds no number there and stops before it writes; one of this version joins as <from>),
 * waits for a role that joined just before to claim its node id, looks, and then either switches
 * the key to <to> or puts <from> back. The fence and each switch are one atomic step (a
 * compare-and-set of the key), so no older role can join between the look and the switch.
 */
import { keyBase, keysAt, tagBase } from './keys';
import { FORMAT_VERSION, readFormat, ROLLING_FORMAT } from './format';
import type { RedisStore } from './redis';
import { sleep } from '../util/time';

/** the roles that heartbeat */
const BEATING = ['api', 'worker', 'scheduler'] as const;

export interface LiveRole {
  role: string;
  nodeId: string;
  /** its version (null: an older role, which says none, or one that has not beaten yet) */
  version: string | null;
  /** the newest format it reads (null as above) */
  format: number | null;
  /** its last heartbeat (Redis's time, ms), null for a claim with none */
  seenAt: number | null;
}

/** whether a role reads the format `to` (an older role, or one not yet known, does not) */
export const reads = (r: LiveRole, to: number): boolean => r.format !== null && r.format >= to;

const SCAN = "return redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', 1000)";
const SWITCH =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0";

/** the node ids claimed now, by role (a SCAN of the locks' keys, a step at a time) */
async function claimedIds(redis: RedisStore): Promise<{ role: string; nodeId: string }[]> {
  const prefix = redis.options.prefix;
  const locks = keysAt(redis.cluster ? tagBase(prefix, 'locks') : keyBase(prefix));
  const head = locks.lock('node:');
  const pattern = head.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
  const out: { role: string; nodeId: string }[] = [];
  let cursor = '0';
  do {
    // run as a script on the locks' key: on a Cluster it reaches the master that holds them
    const [next, keys] = await redis.evalOnce<[string, string[]]>(SCAN, [locks.guard], [cursor, pattern]);
    cursor = next;
    for (const key of keys) {
      const [role, ...id] = key.slice(head.length).split(':');
      if (role && id.length) out.push({ role, nodeId: id.join(':') });
    }
  } while (cursor !== '0');
  return out;
}

/** every role alive on the prefix: its heartbeat's version and format, or none */
export async function liveRoles(redis: RedisStore): Promise<LiveRole[]> {
  const [claims, ...beats] = await Promise.all([claimedIds(redis), ...BEATING.map((role) => redis.nodes.live(role))]);
  const roles: LiveRole[] = beats.flat().map((n) => ({
    role: n.role,
    nodeId: n.nodeId,
    version: typeof n.info.version === 'string' ? n.info.version : null,
    format: typeof n.info.format === 'number' ? n.info.format : null,
    seenAt: n.seenAt,
  }));
  const seen = new Set(roles.map((r) => `${r.role}\n${r.nodeId}`));
  for (const c of claims)
    if (!seen.has(`${c.role}\n${c.nodeId}`)) roles.push({ ...c, version: null, format: null, seenAt: null });
  return roles.sort((a, b) => a.role.localeCompare(b.role) || a.nodeId.localeCompare(b.nodeId));
}

export type FinishOutcome =
  | { outcome: 'finished'; from: number; to: number; roles: LiveRole[] }
  | { outcome: 'already'; to: number; roles: LiveRole[] }
  | { outcome: 'older roles'; from: number; to: number; older: LiveRole[] }
  | { outcome: 'refused'; reason: string };

/** the prefix's format as a number ('2>3', an upgrade being finished, reads as 2), null for none */
export function formatOf(found: string | null): number | null {
  if (found === null) return null;
  const m = /^(\d+)(?:>\d+)?$/.exec(found);
  return m ? Number(m[1]) : NaN;
}

/**
 * take the prefix to FORMAT_VERSION unless an older role is alive (module comment). settleMs:
 * how long after the fence it looks (a role that joined just before claims its id within it)
 */
export async function finishUpgrade(redis: RedisStore, settleMs = 1_000): Promise<FinishOutcome> {
  const key = redis.keys.format;
  const found = await readFormat(redis);
  const from = formatOf(found);
  const to = FORMAT_VERSION;
  if (from === to) return { outcome: 'already', to, roles: await liveRoles(redis) };
  if (from === null)
    return {
      outcome: 'refused',
      reason: 'no role has joined it yet (a role of this version writes the newest format itself)',
    };
  if (Number.isNaN(from) || from > to)
    return {
      outcome: 'refused',
      reason: `it has format '${found}', which this wizard does not know (its newest is ${to})`,
    };
  if (from < ROLLING_FORMAT)
    return {
      outcome: 'refused',
      reason: `it has format ${from}: start a role of this version first, which migrates it`,
    };
  const fence = `${from}>${to}`;
  const cas = (expected: string, next: string) => redis.evalOnce<number>(SWITCH, [key], [expected, next]);
  if (found !== fence && (await cas(found!, fence)) !== 1)
    return { outcome: 'refused', reason: 'its format changed meanwhile: run it again' };
  try {
    await sleep(settleMs);
    const roles = await liveRoles(redis);
    const older = roles.filter((r) => !reads(r, to));
    if (older.length) {
      await cas(fence, String(from));
      return { outcome: 'older roles', from, to, older };
    }
    if ((await cas(fence, String(to))) !== 1)
      return { outcome: 'refused', reason: 'its format changed meanwhile: run it again' };
    return { outcome: 'finished', from, to, roles };
  } catch (err) {
    await cas(fence, String(from)).catch(() => undefined); // the store is away: the fence stays, and a next run takes it
    throw err;
  }
}

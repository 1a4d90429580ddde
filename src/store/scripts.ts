/**
 * The Lua scripts, one per multi-key state transition, each prefixed with the constants of
 * wire.ts (the positional layouts and result codes, generated: the same text every build, so the
 * same SHA) and the lib files (lib.lua, then lib-lake, lib-state, lib-queue, lib-bots). They run by
 * SHA (EVALSHA) and are sent whole only when Redis does not know them (NOSCRIPT: first use, or
 * after a Redis restart).
 *
 * Each starts with a `#!lua` shebang (Redis 7 / Valkey script flags). Without one, Redis refuses
 * only a script's first write command under OOM (maxmemory with noeviction), and claimJobs'
 * first write (RPOP) is not one it refuses: it took jobs and then wrote freely, while every
 * completion was refused. With the shebang and no `allow-oom` flag, Redis refuses the whole
 * script before it runs, so under OOM a claim takes nothing and a transition is all or nothing.
 * The scripts flagged `allow-oom` write a few bytes at most and make nothing that grows: the
 * lease renewals (the score of a lease that exists, a bot's heartbeat fields), a node's heartbeat
 * (one small key it rewrites) and the read of live nodes (it only removes lapsed ones). A live
 * holder keeps its leases through an OOM episode, and /health still counts the live workers, so
 * when memory is back its acknowledgements land before
 * any reaper could take the jobs back. Keys are all under one hash tag (KEYS[1]), so no flag for
 * cross-slot access is needed.
 *
 * Resharding a Cluster while roles run: a script touches keys it learns as it runs (the job ids a
 * claim pops), so it cannot declare them all. What Redis 7 checks is the keys declared: while
 * the slot is MIGRATING, a command whose keys are all on the node runs there, one whose keys are
 * all gone is sent on by ASK, and one that has some but not all answers TRYAGAIN; on the
 * IMPORTING node (after ASK) a command of one key runs, one of several with any missing answers
 * TRYAGAIN. A key touched inside the script but not declared is looked up the same way as the
 * script runs: absent from a MIGRATING node it fails the script there, after its earlier writes;
 * on the IMPORTING node it reads as missing though the source still has it (a job split, and
 * later MIGRATE's "Target key exists"). So every script declares two keys that are never
 * written, the base and `<base>guard`: several keys, some missing, wherever the slot is half
 * moved. Redis answers TRYAGAIN before the script runs, on either node, until the slot is
 * settled, and runs it as before otherwise (a plain Redis does not look at KEYS). The client
 * sends a TRYAGAIN again (cluster.ts). Declaring every other key would change nothing there:
 * they are all in the same slot and it is refused as a whole.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { assetPath } from '../util/package-root';
import { transitionsLua } from './lua-transitions';
import { inlineLayouts, luaConstants } from './wire';

export const SCRIPT_NAMES = [
  'enqueueJobs',
  'claimJobs',
  'completeJobs',
  'completeAndClaim',
  'failJob',
  'renewLease',
  'releaseJob',
  'holdQueue',
  'reserveRate',
  'reapExpiredLeases',
  'checkJob',
  'retryDeadJob',
  'purgeDeadJobs',
  'cleanJobs',
  'enqueueBatch',
  'enqueueScheduled',
  'registerBot',
  'heartbeatBot',
  'claimJobForBot',
  'startJob',
  'completeBotJob',
  'failBotJob',
  'removeBot',
  'markBotsDown',
  'holdLock',
  'releaseLock',
  'pruneDatalake',
  'addToSum',
  'hitRateLimit',
  'heartbeatNode',
  'liveNodes',
  'releaseLostClaim',
  'cancelJob',
  'recordHistory',
  'readHistory',
  'retryFailedJob',
  'reportProgress',
  'removeQueue',
  'spendBudget',
  'createFlow',
  'cancelFlow',
  'flowDeliver',
  'flowOutbox',
  'enqueueDeduped',
  'keepSpan',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** the helpers every script starts with, in this order (each may use what an earlier one defines) */
const LIB_FILES = ['lib', 'lib-lake', 'lib-state', 'lib-queue', 'lib-bots', 'lib-flow'] as const;

/** scripts Redis runs under OOM too (see above); every other one it refuses whole */
const ALLOW_OOM: ReadonlySet<ScriptName> = new Set<ScriptName>([
  'renewLease',
  'heartbeatBot',
  'heartbeatNode',
  'liveNodes',
]);

export interface LuaScript {
  name: ScriptName;
  source: string;
  sha: string;
  /** runs under OOM (its shebang has flags=allow-oom) */
  allowOom: boolean;
}

function read(name: string): string {
  return fs.readFileSync(assetPath('src', 'store', 'lua', `${name}.lua`), 'utf8');
}

let loaded: Record<ScriptName, LuaScript> | null = null;

export function scripts(): Record<ScriptName, LuaScript> {
  if (loaded) return loaded;
  // the wire format's constants and the state machine's table first: the lib files read them
  const lib = `${luaConstants()}${transitionsLua()}\n${LIB_FILES.map(read).join('\n')}`;
  const all = {} as Record<ScriptName, LuaScript>;
  for (const name of SCRIPT_NAMES) {
    const allowOom = ALLOW_OOM.has(name);
    const source = inlineLayouts(`#!lua${allowOom ? ' flags=allow-oom' : ''}\n${lib}\n${read(name)}`); // the shebang must be the first line
    all[name] = { name, source, sha: createHash('sha1').update(source).digest('hex'), allowOom };
  }
  loaded = all;
  return all;
}

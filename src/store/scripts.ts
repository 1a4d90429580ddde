/**
 * The Lua scripts, one per multi-key state transition, after one prelude: the constants of wire.ts
 * (the positional layouts and result codes, generated: the same text every build), the state
 * machine's table and the lib files (lib.lua, then lib-lake, lib-state, lib-queue, lib-bots,
 * lib-flow, lib-call).
 *
 * They run as one Redis Functions library, `wizard_<hash of its source>`: the prelude once, then
 * each script registered as the function `wizard_<hash>_<script>`, whose body starts with
 * beginCall (lib-call.lua), so the prelude's ~140 kB of Lua runs once per FUNCTION LOAD instead of
 * on every call (bench:lua's empty_call: 259,700 instructions by EVALSHA, 48,400 by FCALL, most of
 * which is Redis's own per-call work). Another build's library has another name, and functions
 * of their own: in a rolling upgrade both are loaded and each process calls its own (an old one
 * stays until FUNCTION DELETE). conn.ts's run() loads the library when Redis answers that a
 * function is not found (first use, a restart or failover that lost it, FUNCTION FLUSH; on a
 * Cluster the master of the call's slot) and calls again. Where the library cannot be loaded
 * (FUNCTION LOAD is a write, refused under OOM; an ACL without it) each script runs the old way,
 * assembled from the same prelude with a `#!lua` shebang of the same flags: by SHA (EVALSHA),
 * sent whole on NOSCRIPT.
 *
 * The flags. Without a shebang, Redis refuses only a script's first write command under OOM
 * (maxmemory with noeviction), and claimJobs' first write (RPOP) is not one it refuses: it took
 * jobs and then wrote freely, while every completion was refused. A function (or a shebang
 * script) without the `allow-oom` flag is refused whole before it runs, so under OOM a claim
 * takes nothing and a transition is all or nothing.
 * The scripts flagged `allow-oom` write a few bytes at most and make nothing that grows: the
 * lease renewals (the score of a lease that exists, a bot's heartbeat fields), a node's heartbeat
 * (one small key it rewrites) and the read of live nodes (it only removes lapsed ones). A live
 * holder keeps its leases through an OOM episode, and /health still counts the live workers, so
 * when memory is back its acknowledgements land before
 * any reaper could take the jobs back (by FCALL, or by EVAL when the library could not be loaded:
 * EVAL is not refused as such under OOM, the shebang's flags decide). Keys are all under one hash
 * tag (KEYS[1]), so no flag for cross-slot access is needed.
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
 * settled, and runs it as before otherwise (a plain Redis does not look at KEYS). FCALL declares
 * its keys as EVALSHA does (numkeys, then the keys), and is routed by the first (cluster.ts). The client
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
const LIB_FILES = ['lib', 'lib-lake', 'lib-state', 'lib-queue', 'lib-bots', 'lib-flow', 'lib-call'] as const;

/** scripts Redis runs under OOM too (see above); every other one it refuses whole */
const ALLOW_OOM: ReadonlySet<ScriptName> = new Set<ScriptName>([
  'renewLease',
  'heartbeatBot',
  'heartbeatNode',
  'liveNodes',
]);

export interface LuaScript {
  name: ScriptName;
  /** the script to EVAL when the library cannot be loaded (its shebang has its flags) */
  source: string;
  sha: string;
  /** runs under OOM (flags allow-oom) */
  allowOom: boolean;
  /** its function's name in the library (FCALL) */
  fn: string;
}

export interface LuaLibrary {
  /** wizard_<hash of its source>: another build's library has another name */
  name: string;
  /** the FUNCTION LOAD text */
  source: string;
}

function read(name: string): string {
  return fs.readFileSync(assetPath('src', 'store', 'lua', `${name}.lua`), 'utf8');
}

/** where the library's hash goes in its text before it is known (no Lua holds it) */
const HASH = '\u0000HASH\u0000';

let loaded: { scripts: Record<ScriptName, LuaScript>; library: LuaLibrary } | null = null;

/**
 * Every script assembled twice from the one prelude (the constants, the state machine's table,
 * the lib files): the library registering each as a function, and each on its own for EVAL. The
 * prelude starts with the locals KEYS and ARGV, which beginCall (lib-call.lua) sets from the call's
 * keys and arguments: a function is given them, a script has them as globals.
 */
function assemble(): { scripts: Record<ScriptName, LuaScript>; library: LuaLibrary } {
  if (loaded) return loaded;
  // the wire format's constants and the state machine's table first: the lib files read them
  // each part's layouts inlined once (inlineLayouts reads a part's own tokens, so the parts joined
  // by lines read the same), not the ~140 kB prelude again for every script at every start
  const prelude = inlineLayouts(`${luaConstants()}${transitionsLua()}\n${LIB_FILES.map(read).join('\n')}`);
  const bodies = SCRIPT_NAMES.map((name) => ({ name, body: inlineLayouts(read(name)), allowOom: ALLOW_OOM.has(name) }));
  // the library's text with its name left as HASH, hashed, then named: assembled once
  const unnamed = [
    `#!lua name=wizard_${HASH}`, // the shebang must be the first line
    'local KEYS, ARGV',
    prelude,
    ...bodies.map(
      ({ name, body, allowOom }) =>
        `redis.register_function{function_name = 'wizard_${HASH}_${name}', flags = { ${allowOom ? "'allow-oom'" : ''} },\n` +
        `callback = function(keys, args)\nbeginCall(keys, args)\n${body}\nend}`,
    ),
  ].join('\n');
  const hash = createHash('sha1').update(unnamed).digest('hex').slice(0, 16);
  const library = { name: `wizard_${hash}`, source: unnamed.replaceAll(HASH, hash) };
  const scripts = {} as Record<ScriptName, LuaScript>;
  for (const { name, body, allowOom } of bodies) {
    const header = `#!lua${allowOom ? ' flags=allow-oom' : ''}\nlocal KEYS, ARGV = KEYS, ARGV`;
    const source = `${header}\n${prelude}\nbeginCall(KEYS, ARGV)\n${body}`;
    const sha = createHash('sha1').update(source).digest('hex');
    scripts[name] = { name, source, sha, allowOom, fn: `${library.name}_${name}` };
  }
  loaded = { scripts, library };
  return loaded;
}

export function scripts(): Record<ScriptName, LuaScript> {
  return assemble().scripts;
}

/** the Redis Functions library of every script (see above) */
export function library(): LuaLibrary {
  return assemble().library;
}

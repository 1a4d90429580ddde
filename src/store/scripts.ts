/**
 * The Lua scripts, one per multi-key state transition, each prefixed with lib.lua. They run by
 * SHA (EVALSHA) and are sent whole only when Redis does not know them (NOSCRIPT: first use, or
 * after a Redis restart).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { assetPath } from '../util/package-root';

export const SCRIPT_NAMES = [
  'enqueueJobs',
  'claimJobs',
  'completeJobs',
  'completeAndClaim',
  'failJob',
  'renewLease',
  'releaseJob',
  'reapExpiredLeases',
  'checkJob',
  'retryDeadJob',
  'purgeDeadJobs',
  'enqueueBatch',
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
  'recordHistory',
  'readHistory',
  'retryFailedJob',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export interface LuaScript {
  name: ScriptName;
  source: string;
  sha: string;
}

function read(name: string): string {
  return fs.readFileSync(assetPath('src', 'store', 'lua', `${name}.lua`), 'utf8');
}

let loaded: Record<ScriptName, LuaScript> | null = null;

export function scripts(): Record<ScriptName, LuaScript> {
  if (loaded) return loaded;
  const lib = read('lib');
  const all = {} as Record<ScriptName, LuaScript>;
  for (const name of SCRIPT_NAMES) {
    const source = `${lib}\n${read(name)}`;
    all[name] = { name, source, sha: createHash('sha1').update(source).digest('hex') };
  }
  loaded = all;
  return all;
}

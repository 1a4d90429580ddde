/**
 * The state machine as Lua: src/core/job.ts's TRANSITIONS rendered as a table that
 * src/store/scripts.ts puts ahead of lib.lua in every script, so lib.lua's setState and finish
 * check a move against the one table both adapters follow (the memory adapter calls
 * checkTransition). Generated, never written by hand.
 */
import { JOB_STATES, TRANSITIONS } from '../core/job';

/** `local TRANSITIONS = { PENDING = { STARTED = true, ... }, ... }`: from → the states it may move to */
export function transitionsLua(): string {
  const rows = JOB_STATES.map((from) => `  ${from} = { ${TRANSITIONS[from].map((to) => `${to} = true`).join(', ')} },`);
  return [
    '-- generated from src/core/job.ts TRANSITIONS (src/store/lua-transitions.ts): from -> the states it may move to',
    'local TRANSITIONS = {',
    ...rows,
    '}',
  ].join('\n');
}

/**
 * The state machine as Lua: src/core/states.ts's TRANSITIONS and sets of states rendered as
 * tables that src/store/scripts.ts puts ahead of lib.lua in every script, so lib.lua's setState
 * and finish check a move against the one table both adapters follow (the memory adapter calls
 * checkTransition), and every script reads the sets (FINAL[state], ...) from the one module.
 * Generated, never written by hand.
 */
import { DEFAULT_PRIORITY } from '../core/job';
import { EXPIRING_LIST, JOB_STATES, STATE_SETS, TRANSITIONS } from '../core/states';

const luaSet = (states: readonly string[]) => `{ ${states.map((s) => `${s} = true`).join(', ')} }`;

/**
 * `local TRANSITIONS = { PENDING = { STARTED = true, ... }, ... }` (from → the states it may move
 * to), a set per name of STATE_SETS (`local FINAL = { SUCCESS = true, ... }`), EXPIRING_LIST as
 * an array (ipairs), and the default priority as the records keep it
 */
export function transitionsLua(): string {
  const rows = JOB_STATES.map((from) => `  ${from} = ${luaSet(TRANSITIONS[from])},`);
  return [
    '-- generated from src/core/states.ts (src/store/lua-transitions.ts): from -> the states it may move to, the sets',
    'local TRANSITIONS = {',
    ...rows,
    '}',
    ...Object.entries(STATE_SETS).map(([name, states]) => `local ${name} = ${luaSet(states)}`),
    `local EXPIRING_LIST = { ${EXPIRING_LIST.map((s) => `'${s}'`).join(', ')} }`,
    `local DEFAULT_PRIORITY = '${DEFAULT_PRIORITY}'`,
  ].join('\n');
}

/**
 * The job states and every set of them, written once. The adapters, the Lua scripts (their
 * constants are generated from here: src/store/lua-transitions.ts) and the console (its
 * src/roles/api/public/states.js is generated from here: statesScript) read them from this
 * module; test/unit/states.test.ts fails on a list of states spelled anywhere else under src/.
 * The state machine itself (which move each script makes) is drawn in src/core/job.ts.
 */
export const JOB_STATES = [
  'PENDING',
  'STARTED',
  'PROGRESS',
  'SUCCESS',
  'FAILURE',
  'RETRY',
  'DEAD',
  'CANCELLED',
  'SKIPPED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** the states a job ends in: nothing moves it on but a retry by hand */
export const FINAL_LIST = ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED', 'SKIPPED'] as const satisfies readonly JobState[];
export type FinalState = (typeof FINAL_LIST)[number];
/** the final states whose jobs expire resultTtlMs after they finish (a DEAD job waits in the dead-letter queue) */
export const EXPIRING_LIST = FINAL_LIST.filter((s) => s !== 'DEAD');
/** the final states of a job that did not succeed and was not cancelled: it failed, or ran out of attempts */
export const FAILED_LIST = ['FAILURE', 'DEAD'] as const satisfies readonly FinalState[];
/** the final states of a flow's dep that make its dependents apply their on_dep_failure policy: all but SUCCESS */
export const DEP_FAILED_LIST = FINAL_LIST.filter((s) => s !== 'SUCCESS');
/** the states of a job waiting in its queue for a consumer */
export const RUNNABLE_LIST = ['PENDING', 'RETRY'] as const satisfies readonly JobState[];
/** the states of a job a consumer holds under a lease */
export const HELD_LIST = ['STARTED', 'PROGRESS'] as const satisfies readonly JobState[];
/**
 * the states a queued top-level job is only counted in, not indexed (its queue holds it: the
 * wait lists, the lease set); in this order, joinFormat.lua's keys name their indexes, and the
 * all-jobs listing reads their queues (the order a job moves: src/store/redis/reads.ts allOf)
 */
export const COUNTED_NOT_INDEXED_LIST = ['PENDING', 'STARTED'] as const satisfies readonly JobState[];

/** a flow's states (src/core/flows.ts): RUNNING while a node can still run, then how it ended */
export const FLOW_STATES = ['RUNNING', 'SUCCESS', 'FAILURE', 'CANCELLED'] as const;
export type FlowState = (typeof FLOW_STATES)[number];

const setOf = (list: readonly JobState[]): ReadonlySet<JobState> => new Set<JobState>(list);
export const FINAL_STATES = setOf(FINAL_LIST);
export const RUNNABLE_STATES = setOf(RUNNABLE_LIST);
export const HELD_STATES = setOf(HELD_LIST);
export const COUNTED_NOT_INDEXED = setOf(COUNTED_NOT_INDEXED_LIST);

/**
 * Every state change a job can make, from → to. The adapters enforce it: lib.lua's setState and
 * finish (src/store/scripts.ts prepends this table to the scripts, as Lua) and the memory
 * adapter's refuse any other move, failing the step before it writes (checkTransition).
 */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  PENDING: ['STARTED', 'FAILURE', 'CANCELLED', 'SKIPPED'], // SKIPPED: a flow's node whose dep failed (on_dep_failure skip)
  STARTED: ['PROGRESS', 'SUCCESS', 'FAILURE', 'RETRY', 'DEAD', 'PENDING', 'CANCELLED'],
  PROGRESS: ['PROGRESS', 'SUCCESS', 'FAILURE', 'RETRY', 'DEAD', 'PENDING', 'CANCELLED'],
  RETRY: ['STARTED', 'FAILURE', 'CANCELLED'],
  SUCCESS: [],
  FAILURE: ['PENDING'], // retried by hand (a top-level queued job), or a flow's node failed for a dep retried by hand
  DEAD: ['PENDING'], // retried by hand from the dead-letter queue
  CANCELLED: [],
  SKIPPED: ['PENDING'], // a flow's node skipped for a dep that was retried by hand (docs/flows.md)
};

/** the sets of states by their names, as the Lua scripts and the console know them */
export const STATE_SETS = {
  FINAL: FINAL_LIST,
  EXPIRING: EXPIRING_LIST,
  FAILED: FAILED_LIST,
  DEP_FAILED: DEP_FAILED_LIST,
  RUNNABLE: RUNNABLE_LIST,
  HELD: HELD_LIST,
  COUNTED_NOT_INDEXED: COUNTED_NOT_INDEXED_LIST,
} as const satisfies Record<string, readonly JobState[]>;

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.has(state);
}

export function isJobState(s: unknown): s is JobState {
  return typeof s === 'string' && (JOB_STATES as readonly string[]).includes(s);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from]?.includes(to) ?? false;
}

/** refuse a move TRANSITIONS does not list: a bug in an adapter, never a user's mistake */
export function checkTransition(from: JobState, to: JobState): void {
  if (!canTransition(from, to)) throw new Error(`no transition ${from} -> ${to} (src/core/states.ts TRANSITIONS)`);
}

/**
 * The console's copy (src/roles/api/public/states.js, loaded before lib.js): the page has no
 * build step, so the file is written from here (`npm run gen:states`) and a test keeps it equal.
 */
export function statesScript(): string {
  const sets = Object.entries({ JOB_STATES, ...STATE_SETS });
  return [
    '/* generated from src/core/states.ts (npm run gen:states): the job states and their sets, for the console */',
    "'use strict';",
    '',
    'window.wizardStates = Object.freeze({',
    ...sets.map(([name, states]) => `  ${name}: [${states.map((s) => `'${s}'`).join(', ')}],`),
    '});',
    '',
  ].join('\n');
}

/* generated from src/core/states.ts (npm run gen:states): the job states and their sets, for the console */
'use strict';

window.wizardStates = Object.freeze({
  JOB_STATES: ['PENDING', 'STARTED', 'PROGRESS', 'SUCCESS', 'FAILURE', 'RETRY', 'DEAD', 'CANCELLED', 'SKIPPED'],
  FINAL: ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED', 'SKIPPED'],
  EXPIRING: ['SUCCESS', 'FAILURE', 'CANCELLED', 'SKIPPED'],
  FAILED: ['FAILURE', 'DEAD'],
  DEP_FAILED: ['FAILURE', 'DEAD', 'CANCELLED', 'SKIPPED'],
  RUNNABLE: ['PENDING', 'RETRY'],
  HELD: ['STARTED', 'PROGRESS'],
  COUNTED_NOT_INDEXED: ['PENDING', 'STARTED'],
});

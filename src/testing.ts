/** `import { createTestStore } from 'wizard/testing'`: a handlers module's jobs run in a test (src/sdk/testing.ts) */
export { createTestStore } from './sdk/testing';
export type { DrainOptions, DrainResult, TestStore, TestStoreOptions } from './sdk/testing';
export { JobFailed, NotFound, Unavailable, ValidationError, WaitTimeout, WizardApiError } from './sdk/errors';

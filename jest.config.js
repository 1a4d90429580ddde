/** Tests run from TypeScript sources through ts-jest (transpile only; `npm run typecheck` checks types).
 *  e2e tests spawn the built binary, so `npm test` builds first. docs/testing.md: the tiers, the
 *  shared servers, the order. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 60000,
  // the slowest files first (test/timings.json), so no worker ends the run alone on a long one
  testSequencer: '<rootDir>/test/helpers/sequencer.cjs',
  // two cores: most files spawn processes (wizard roles, redis-server, Chromium) that need the other
  maxWorkers: 2,
};

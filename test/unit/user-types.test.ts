/** A --handlers module's definitions, checked (user-types.ts): what is accepted, and the one line for each mistake. */
import { UsageError } from '../../src/core/errors';
import { batchJobs, batchSpec } from '../../src/core/batch';
import { failTarget, isCpuType, maxAttemptsFor, resetTypes, specFor, timeoutFor } from '../../src/core/handlers';
import { makeSchedule } from '../../src/core/schedule';
import { checkUserParams } from '../../src/core/user-params';
import { normalizeProgress, progressText } from '../../src/core/progress';
import { checkTypes } from '../../src/core/user-types';
import { registerTypes } from '../../src/core/handlers';

const FILE = '/x/types.mjs';
const line = (table: unknown) => {
  try {
    checkTypes(table, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

afterEach(resetTypes);

test('a full definition becomes a spec: policy, cpu, timeout, queue, schema', () => {
  const run = () => 1;
  const specs = checkTypes(
    {
      render: {
        params: { type: 'object', properties: { w: { type: 'integer' } } },
        cpu: true,
        attempts: 5,
        backoff_ms: 2000,
        timeout_ms: 60000,
        run,
      },
      upload: { queue: 'bots' },
    },
    FILE,
  );
  expect(specs.render).toMatchObject({
    cpu: true,
    policy: { maxAttempts: 5, baseMs: 2000, maxMs: 30000 },
    user: { file: FILE, run },
  });
  expect(specs.render.timeoutMs({})).toBe(60000);
  expect(specs.upload).toMatchObject({
    cpu: false,
    policy: { maxAttempts: 3 },
    user: { queue: 'bots', params: { type: 'object' } },
  });
  expect(specs.upload.user!.run).toBeUndefined();
});

test('each mistake is one line naming the type and the field', () => {
  expect(line(null)).toBe(`--handlers ${FILE}: the default export must be an object mapping type names to definitions`);
  expect(line({ a: 5 })).toBe(`--handlers ${FILE}: type a: the definition must be an object`);
  expect(line({ a: { run: 1 } })).toBe(`--handlers ${FILE}: type a: run must be a function`);
  expect(line({ a: { run() {}, retry: 1 } })).toBe(
    `--handlers ${FILE}: type a: retry is not a field of a type (params, run, cpu, attempts, backoff_ms, timeout_ms, queue)`,
  );
  expect(line({ a: { run() {}, cpu: 'yes' } })).toBe(`--handlers ${FILE}: type a: cpu must be true or false`);
  expect(line({ a: { run() {}, attempts: 1.5 } })).toBe(
    `--handlers ${FILE}: type a: attempts must be an integer from 1 to 100`,
  );
  expect(line({ a: { run() {}, backoff_ms: -1 } })).toBe(
    `--handlers ${FILE}: type a: backoff_ms must be an integer from 0 to 86400000`,
  );
  expect(line({ a: { run() {}, timeout_ms: 0 } })).toBe(
    `--handlers ${FILE}: type a: timeout_ms must be an integer from 1 to 86400000`,
  );
  expect(line({ a: { run() {}, queue: '' } })).toBe(
    `--handlers ${FILE}: type a: queue must be 1-64 of letters, digits, _ . -`,
  );
  expect(line({ a: {} })).toBe(
    `--handlers ${FILE}: type a: run must be a function (or give a queue for bots to take the jobs from)`,
  );
  expect(line({ a: { queue: 'bots', cpu: true } })).toBe(`--handlers ${FILE}: type a: cpu needs a run function`);
  expect(line({ a: { run() {}, params: [] } })).toBe(
    `--handlers ${FILE}: type a: params must be a JSON Schema (an object)`,
  );
  expect(line({ a: { run() {}, params: { type: 'nonsense' } } })).toMatch(
    new RegExp(`^--handlers ${FILE}: type a: params is not a valid JSON Schema: `),
  );
  for (const builtin of ['task', 'primes', 'primes_chunk', 'sim']) {
    expect(line({ [builtin]: { run() {} } })).toBe(
      `--handlers ${FILE}: type ${builtin}: the name is a built-in type (task, primes, primes_chunk, sim)`,
    );
  }
  expect(line({ '1x': { run() {} } })).toBe(
    `--handlers ${FILE}: type 1x: the name must be a letter then up to 63 letters, digits, _ . : -`,
  );
});

test('registered, a type has its policy everywhere; an unknown type gets the defaults', () => {
  registerTypes(
    checkTypes(
      {
        render: {
          run() {},
          attempts: 2,
          timeout_ms: 500,
          params: { type: 'object', required: ['w'], properties: { w: { type: 'integer' } } },
        },
      },
      FILE,
    ),
  );
  expect(maxAttemptsFor('render')).toBe(2);
  expect(timeoutFor({ type: 'render', params: {}, timeoutMs: null })).toBe(500);
  expect(timeoutFor({ type: 'render', params: {}, timeoutMs: 9 })).toBe(9);
  expect(failTarget({ type: 'render', attempts: 2, maxAttempts: 2 }, false)).toEqual({ to: 'DEAD' });
  expect(failTarget({ type: 'render', attempts: 1, maxAttempts: 2 }, true)).toEqual({ to: 'FAILURE' });
  expect(specFor('elsewhere')).toBeUndefined();
  expect(maxAttemptsFor('elsewhere')).toBe(3);
  expect(timeoutFor({ type: 'elsewhere', params: {}, timeoutMs: null })).toBe(600_000);
  expect(failTarget({ type: 'elsewhere', attempts: 1, maxAttempts: 3 }, false).to).toBe('RETRY');
  expect(checkUserParams('render', { w: 3 })).toEqual({ w: 3 });
  expect(() => checkUserParams('render', { w: 'x' })).toThrow('params.w: must be integer');
});

test("a cpu type's jobs wait in the CPU lists: the registry says so, and a batch or schedule made of it keeps it for a role without the module", () => {
  registerTypes(checkTypes({ render: { run() {}, cpu: true }, upload: { queue: 'bots' } }, FILE));
  expect([
    isCpuType('render'),
    isCpuType('upload'),
    isCpuType('primes_chunk'),
    isCpuType('task'),
    isCpuType('elsewhere'),
  ]).toEqual([true, false, true, false, false]);
  const settings = { size: 2, params: {}, processingDurationMs: 1, failureRate: 0, queue: 'bots' };
  const render = batchSpec({ ...settings, type: 'render' });
  expect(render).toMatchObject({ type: 'render', cpu: true });
  expect(batchJobs(render, 'b1', 'api-1').map((j) => j.cpu)).toEqual([true, true]);
  expect(makeSchedule('r', render, { every_ms: 60_000 }, 0)).toMatchObject({ cpu: true });
  const upload = batchSpec({ ...settings, type: 'upload' });
  expect('cpu' in upload).toBe(false);
  expect(batchJobs(upload, 'b1', 'api-1').map((j) => j.cpu)).toEqual([undefined, undefined]);
});

test('ctx.progress takes a fraction or {completed, total}; both read as the views show them', () => {
  expect(normalizeProgress(0.25)).toEqual({ completed: 0.25, total: 1 });
  expect(normalizeProgress({ completed: 3, total: 8 })).toEqual({ completed: 3, total: 8 });
  for (const bad of [
    1.5,
    -0.1,
    Number.NaN,
    '0.5',
    null,
    { completed: 1 },
    { completed: 1, total: 0 },
    { completed: -1, total: 2 },
  ]) {
    expect(() => normalizeProgress(bad)).toThrow(TypeError);
  }
  expect(progressText({ completed: 0.25, total: 1 })).toBe('25%');
  expect(progressText({ completed: 3, total: 8 })).toBe('3/8');
});

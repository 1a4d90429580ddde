import { computeBackoff, DEFAULT_BACKOFF, shouldRetry } from '../../src/core/backoff';
import { planChunks } from '../../src/core/chunks';
import { JobFailedError, UnreachableError, UsageError, ValidationError } from '../../src/core/errors';
import { exitCodeFor } from '../../src/commands/exit-codes';
import { failTarget, isPermanent, simulateWork } from '../../src/core/handlers';
import { canTransition, isFinal, JOB_STATES, Job } from '../../src/core/job';
import { jobView, primeJobView, taskStatusView } from '../../src/roles/api/views';
import { compute } from '../../src/core/math';
import { addQuery, countPrimesBody, parseInput, taskBody } from '../../src/core/schemas';

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j1',
  type: 'task',
  queue: 'default',
  state: 'SUCCESS',
  params: { a: 1, b: 2 },
  progress: null,
  result: 3,
  error: null,
  attempts: 1,
  maxAttempts: 3,
  initiatedBy: 'api-1',
  handledBy: 'worker-1',
  checkedBy: 'api-2',
  parentId: null,
  createdAt: 1000,
  startedAt: 1500,
  finishedAt: 1750,
  updatedAt: 1750,
  runAt: null,
  priority: 5,
  timeoutMs: null,
  idempotencyKey: null,
  ...over,
});

describe('the state machine', () => {
  test('final states go nowhere but DEAD and FAILURE go back to PENDING when retried by hand', () => {
    for (const s of JOB_STATES) {
      expect(canTransition('SUCCESS', s)).toBe(false);
      expect(canTransition('CANCELLED', s)).toBe(false);
      expect(canTransition('FAILURE', s)).toBe(s === 'PENDING');
      expect(canTransition('DEAD', s)).toBe(s === 'PENDING');
    }
    expect(canTransition('PENDING', 'STARTED')).toBe(true);
    expect(canTransition('PENDING', 'SUCCESS')).toBe(false);
    expect(canTransition('RETRY', 'STARTED')).toBe(true);
    expect(['SUCCESS', 'FAILURE', 'DEAD'].every((s) => isFinal(s as Job['state']))).toBe(true);
    expect(isFinal('RETRY')).toBe(false);
  });
});

describe('views of the one job record', () => {
  test('seed 000 task status', () => {
    expect(taskStatusView(job())).toEqual({
      task_id: 'j1',
      status: 'SUCCESS',
      result: 3,
      error: null,
      initiated_by: 'api-1',
      checked_by: 'api-2',
      handled_by: 'worker-1',
    });
  });
  test('seed 002 prime job: the result only on SUCCESS, progress always', () => {
    const running = primeJobView(
      job({ type: 'primes', state: 'PROGRESS', progress: { completed: 8, total: 16 }, result: null }),
    );
    expect(running).toMatchObject({
      job_id: 'j1',
      state: 'PROGRESS',
      progress: { completed: 8, total: 16 },
      result: null,
    });
    const done = primeJobView(
      job({
        type: 'primes',
        progress: { completed: 16, total: 16 },
        result: { prime_count: 17984, duration_sec: 0.01 },
      }),
    );
    expect(done.result).toEqual({ prime_count: 17984, duration_sec: 0.01 });
  });
  test('the generic view has ISO times and the duration', () => {
    expect(jobView(job())).toMatchObject({
      job_id: 'j1',
      state: 'SUCCESS',
      status: 'SUCCESS',
      created_at: new Date(1000).toISOString(),
      duration_ms: 250,
      run_at: null,
    });
  });
});

describe('backoff', () => {
  test('doubles from the base, capped, with the jittered share drawn at random', () => {
    const p = { ...DEFAULT_BACKOFF, baseMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5].map((n) => computeBackoff(p, n, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => computeBackoff(p, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(computeBackoff({ ...p, jitter: 0 }, 2, Math.random)).toBe(200);
  });
  test('retries while attempts are left', () => {
    expect(shouldRetry({ ...DEFAULT_BACKOFF, maxAttempts: 3 }, 2)).toBe(true);
    expect(shouldRetry({ ...DEFAULT_BACKOFF, maxAttempts: 3 }, 3)).toBe(false);
  });
  test("a failed attempt counts against the job's own maxAttempts, not only its type's default", () => {
    expect(failTarget(job({ attempts: 1, maxAttempts: 1 }), false)).toEqual({ to: 'DEAD' });
    expect(failTarget(job({ attempts: 3, maxAttempts: 5 }), false)).toMatchObject({ to: 'RETRY' });
    expect(failTarget(job({ attempts: 5, maxAttempts: 5 }), false)).toEqual({ to: 'DEAD' });
    expect(failTarget(job({ attempts: 1, maxAttempts: 5 }), true)).toEqual({ to: 'FAILURE' });
  });
});

describe('chunk planning (seed 002)', () => {
  test('n=100, chunks=4 → [1-25, 26-50, 51-75, 76-100]', () => {
    expect(planChunks(100, 4).map((c) => [c.lo, c.hi])).toEqual([
      [1, 25],
      [26, 50],
      [51, 75],
      [76, 100],
    ]);
  });
  test('the last chunk absorbs the remainder; the ranges cover [1, n] without overlap', () => {
    for (const [n, k] of [
      [10_007, 16],
      [200_000, 16],
      [10_000, 128],
      [123_457, 1],
      [1e12, 128],
    ]) {
      const c = planChunks(n, k);
      expect(c).toHaveLength(k);
      expect(c[0].lo).toBe(1);
      expect(c[k - 1].hi).toBe(n);
      for (let i = 1; i < k; i++) expect(c[i].lo).toBe(c[i - 1].hi + 1);
      expect(c[k - 1].hi - c[k - 1].lo).toBeGreaterThanOrEqual(c[0].hi - c[0].lo);
    }
  });
});

describe('math', () => {
  test('the four operations; division by zero is a validation error', () => {
    expect(compute({ a: 2, b: 3, op: 'add' })).toBe(5);
    expect(compute({ a: 2, b: 3, op: 'sub' })).toBe(-1);
    expect(compute({ a: 2, b: 3, op: 'mul' })).toBe(6);
    expect(compute({ a: 3, b: 2, op: 'div' })).toBe(1.5);
    expect(() => compute({ a: 3, b: 0, op: 'div' })).toThrow(ValidationError);
  });

  test.each([
    [1e308, 1e308, 'mul'],
    [1.7e308, 1.7e308, 'add'],
    [-1.7e308, 1.7e308, 'sub'],
    [1, 1e-320, 'div'],
  ] as const)('a result that is not a finite number (%d %s %s) is a validation error naming result', (a, b, op) => {
    let thrown: unknown;
    try {
      compute({ a, b, op });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).details).toEqual([{ field: 'result', message: 'not a finite number' }]);
    expect((thrown as ValidationError).message).toMatch(/is not a finite number/);
  });
});

describe('validation messages name the field and the bound', () => {
  const msg = (schema: Parameters<typeof parseInput>[0], v: unknown) => {
    try {
      parseInput(schema, v);
    } catch (e) {
      return (e as Error).message;
    }
    return 'ok';
  };
  test.each([
    [{ n: 9999, chunks: 4 }, 'n must be an integer >= 10000'],
    [{ n: 1e12 + 1, chunks: 4 }, 'n must be an integer <= 10^12'],
    [{ n: 10_000.5, chunks: 4 }, 'n must be an integer from 10000 to 10^12'],
    [{ n: '20000', chunks: 4 }, 'n must be an integer from 10000 to 10^12'],
    [{ n: 20_000, chunks: 0 }, 'chunks must be an integer >= 1'],
    [{ n: 20_000, chunks: 129 }, 'chunks must be an integer <= 128'],
    [{ n: 20_000 }, 'chunks must be an integer from 1 to 128'],
    [{ n: 20_000, chunks: 4, extra: 1 }, 'unknown field: extra'],
    [[1, 2], 'body must be a JSON object {n, chunks}'],
    [null, 'body must be a JSON object {n, chunks}'],
  ])('count-primes %j → %s', (body, expected) => {
    expect(msg(countPrimesBody, body)).toBe(expected);
  });
  test('task bodies and /add queries', () => {
    expect(parseInput(taskBody, { a: 2, b: 3 })).toEqual({ a: 2, b: 3, op: 'add' });
    expect(msg(taskBody, { a: '2', b: 3 })).toBe('a must be a finite number');
    expect(msg(taskBody, { a: 2, b: 3, op: 'pow' })).toBe('op must be one of add, sub, mul, div');
    expect(parseInput(addQuery, { a: '1.5', b: '-2e3' })).toEqual({ a: 1.5, b: -2000, op: 'add' });
    expect(msg(addQuery, { b: '1' })).toBe('a is required and must be a number');
    expect(msg(addQuery, { a: '0x10', b: '1' })).toBe('a must be a finite number');
    expect(msg(addQuery, { a: '1e999', b: '1' })).toBe('a must be a finite number');
  });
});

describe('errors map to exit codes', () => {
  test('usage 2, unreachable 3, a failed job 1', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new ValidationError('x'))).toBe(2);
    expect(exitCodeFor(new UnreachableError('x'))).toBe(3);
    expect(exitCodeFor(new JobFailedError('x'))).toBe(1);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });
});

describe('simulated work (seed 004)', () => {
  test('takes its duration and fails at its rate; the failure is retried by the sim policy, not permanent', async () => {
    await expect(simulateWork({ duration_ms: 5, failure_rate: 0.5 }, { random: () => 0.9 })).resolves.toMatchObject({
      ok: true,
    });
    const failing = simulateWork({ duration_ms: 5, failure_rate: 0.5 }, { random: () => 0.1 });
    const err = await failing.catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('simulated failure');
    expect(isPermanent(err)).toBe(false);
    expect(isPermanent(Object.assign(new Error('bad input'), { permanent: true }))).toBe(true);
    expect(failTarget({ type: 'sim', attempts: 1, maxAttempts: 3 }, isPermanent(err))).toMatchObject({ to: 'RETRY' });
    expect(failTarget({ type: 'sim', attempts: 3, maxAttempts: 3 }, isPermanent(err))).toEqual({ to: 'DEAD' });
  });
});

describe('a validation error has one entry per field', () => {
  test.each([
    [{ n: 1e20, chunks: 4 }, [{ field: 'n', message: 'n must be an integer from 10000 to 10^12' }]],
    [{ n: 2 ** 53, chunks: 4 }, [{ field: 'n', message: 'n must be an integer from 10000 to 10^12' }]],
    [{ n: 5, chunks: 4 }, [{ field: 'n', message: 'n must be an integer >= 10000' }]],
    [
      { n: 1e20, chunks: 1e20 },
      [
        { field: 'n', message: 'n must be an integer from 10000 to 10^12' },
        { field: 'chunks', message: 'chunks must be an integer from 1 to 128' },
      ],
    ],
  ])('%j', (body, details) => {
    let err: ValidationError | null = null;
    try {
      parseInput(countPrimesBody, body);
    } catch (e) {
      err = e as ValidationError;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(err!.details).toEqual(details);
    expect(err!.message).toBe(details[0].message);
  });
});

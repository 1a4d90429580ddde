/**
 * Request schemas: one definition validates input and (later) documents it in OpenAPI.
 * Each message names the field and its bound, as seed 002 asks ("n must be an integer >= 10000").
 */
import { HISTORY_WINDOWS, HistoryWindow } from './history';
import { z } from 'zod';
import { ValidationError } from './errors';
import { isJobState, JOB_STATES, JobState } from './job';
import { MATH_OPS } from './math';

import { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N } from './limits';

export { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N };

/** an integer field in [min, max] whose every failure says so */
function boundedInt(field: string, min: number, max: number, minLabel = String(min), maxLabel = String(max)) {
  const msg = `${field} must be an integer from ${minLabel} to ${maxLabel}`;
  return z
    .number({ error: msg })
    .int({ error: msg })
    .min(min, { error: `${field} must be an integer >= ${minLabel}` })
    .max(max, { error: `${field} must be an integer <= ${maxLabel}` });
}

function finiteNumber(field: string) {
  return z.number({ error: `${field} must be a finite number` });
}

/** a JSON object body with exactly these fields; an unknown field or a non-object is named as such */
function jsonBody<S extends z.ZodRawShape>(shape: S) {
  const expected = `body must be a JSON object {${Object.keys(shape).join(', ')}}`;
  return z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field: ${iss.keys.join(', ')}` : expected) });
}

export const countPrimesBody = jsonBody({
  n: boundedInt('n', PRIMES_MIN_N, PRIMES_MAX_N, '10000', '10^12'),
  chunks: boundedInt('chunks', 1, PRIMES_MAX_CHUNKS),
});
export type CountPrimesBody = z.infer<typeof countPrimesBody>;

export const mathOp = z.enum(MATH_OPS, { error: `op must be one of ${MATH_OPS.join(', ')}` });

export const taskBody = jsonBody({
  a: finiteNumber('a'),
  b: finiteNumber('b'),
  op: mathOp.default('add'),
});
export type TaskBody = z.infer<typeof taskBody>;

/** seed 003: a JSON integer that is exact as a double (|number| <= 2^53-1) */
export const abacusBody = jsonBody({
  number: boundedInt('number', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
});
export type AbacusBody = z.infer<typeof abacusBody>;

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** a query-string number: present, numeric and finite */
export function queryNumber(field: string) {
  return z
    .string({ error: `${field} is required and must be a number` })
    .refine((s) => NUMERIC.test(s) && Number.isFinite(Number(s)), { error: `${field} must be a finite number` })
    .transform(Number);
}

export const addQuery = z.object({ a: queryNumber('a'), b: queryNumber('b'), op: mathOp.default('add') });

/** parse or throw a ValidationError whose message is the first issue's and whose details list them all */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const details = r.error.issues.map((iss) => ({ field: iss.path.join('.') || '(body)', message: iss.message }));
  throw new ValidationError(details[0].message, details);
}

// ---- seed 004: batches, bots, the job listing, the datalake ----

/** a string of min..max characters whose every failure says so */
function boundedString(field: string, min: number, max: number) {
  const msg = `${field} must be a string of ${min}-${max} characters`;
  return z.string({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

/** params of seed 004's simulated work */
export const simParams = z.object({
  duration_ms: boundedInt('duration_ms', 0, 86_400_000),
  failure_rate: z.number({ error: 'failure_rate must be a number from 0 to 1' }).min(0, { error: 'failure_rate must be >= 0' }).max(1, { error: 'failure_rate must be <= 1' }),
});

/** a query-string integer in [min, max], or the default when absent */
function queryInt(field: string, min: number, max: number, dflt: number) {
  const msg = `${field} must be an integer from ${min} to ${max}`;
  return z
    .string({ error: msg })
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, { error: msg })
    .transform(Number)
    .optional()
    .transform((n) => n ?? dflt);
}

/** seed 004's names (pending, claimed, processing, completed, failed) and our states, any case */
const STATUS_ALIASES: Record<string, string> = { CLAIMED: 'STARTED', PROCESSING: 'PROGRESS', RUNNING: 'PROGRESS', COMPLETED: 'SUCCESS', FAILED: 'FAILURE' };
const statusMsg = `status must be one of ${JOB_STATES.join(', ')} (or pending, claimed, processing, completed, failed)`;

export const listJobsQuery = z.object({
  status: z
    .string({ error: statusMsg })
    .transform((s) => STATUS_ALIASES[s.toUpperCase()] ?? s.toUpperCase())
    .refine(isJobState, { error: statusMsg })
    .transform((s) => s as JobState)
    .optional(),
  offset: queryInt('offset', 0, 1_000_000, 0),
  limit: queryInt('limit', 1, 500, 50),
});

export const dlqQuery = z.object({
  offset: queryInt('offset', 0, 1_000_000, 0),
  limit: queryInt('limit', 1, 500, 50),
});

const objectError = (shape: string) => (iss: { code: string; keys?: string[] }) =>
  iss.code === 'unrecognized_keys' ? `unknown field: ${(iss.keys ?? []).join(', ')}` : `body must be a JSON object ${shape}`;

export const registerBotBody = z.strictObject({ name: boundedString('name', 1, 128).optional() }, { error: objectError('{name?}') });

export const claimBody = z.strictObject(
  { queue: z.string({ error: 'queue must be 1-64 letters, digits, _ . : -' }).regex(/^[\w.:-]{1,64}$/, { error: 'queue must be 1-64 letters, digits, _ . : -' }).optional() },
  { error: objectError('{queue?}') },
);

export const completeBody = z.strictObject({ result: z.unknown().optional() }, { error: objectError('{result?}') });

export const failBody = z.strictObject(
  { error: boundedString('error', 1, 2000), permanent: z.boolean({ error: 'permanent must be true or false' }).optional() },
  { error: objectError('{error, permanent?}') },
);

export const populateBody = z.strictObject(
  {
    count: boundedInt('count', 1, 1000).optional(),
    type: z.string({ error: 'type must be a string' }).optional(),
    params: z.record(z.string(), z.unknown(), { error: 'params must be a JSON object' }).optional(),
  },
  { error: objectError('{count?, type?, params?}') },
);

// ---- the dashboard's history ----

const windowMsg = `window must be one of ${Object.keys(HISTORY_WINDOWS).join(', ')}`;

/** GET /metrics/history's query: how far back (default 1h) */
export const historyQuery = z.object({
  window: z
    .string({ error: windowMsg })
    .refine((w): w is HistoryWindow => Object.hasOwn(HISTORY_WINDOWS, w), { error: windowMsg })
    .optional()
    .transform((w) => (w ?? '1h') as HistoryWindow),
});

/**
 * Request schemas: one definition validates input and (later) documents it in OpenAPI.
 * Each message names the field and its bound, as seed 002 asks ("n must be an integer >= 10000").
 */
import { z } from 'zod';
import { ValidationError } from './errors';
import { MATH_OPS } from './math';

export const PRIMES_MIN_N = 10_000;
export const PRIMES_MAX_N = 1e12;
export const PRIMES_MAX_CHUNKS = 128;

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

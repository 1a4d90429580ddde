/**
 * The abacus: one running sum shared by every API node. The sum is a signed 64-bit
 * integer (what Redis INCRBY keeps exactly); an add that would take it past either bound is
 * refused and changes nothing. Pure: the stores move the sum, this module holds the rules.
 */
import { ConflictError, UnprocessableError, ValidationError } from './errors';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * atomic: one server-side step (a Lua script around INCRBY), never a conflict.
 * optimistic: the abacus's original WATCH / GET / MULTI SET / EXEC, retried with jitter when the sum moved.
 */
export const ABACUS_STRATEGIES = ['atomic', 'optimistic'] as const;
export type AbacusStrategy = (typeof ABACUS_STRATEGIES)[number];

/** the optimistic strategy gives up (409, nothing added) after this many conflicts in a row */
export const OPTIMISTIC_MAX_ATTEMPTS = 10;

export interface AbacusAddResult {
  /** the sum right after this add */
  sum: bigint;
  /** how many times the optimistic strategy found the sum changed under it and retried (0 when atomic) */
  conflicts: number;
}

/** an add that would leave the signed 64-bit range: 422, the sum unchanged */
export function sumOutOfRange(n: bigint): UnprocessableError {
  const bound =
    n > 0n
      ? `above ${INT64_MAX} (2^63-1, the signed 64-bit maximum)`
      : `below ${INT64_MIN} (-2^63, the signed 64-bit minimum)`;
  return new UnprocessableError(`adding ${n} would take the sum ${bound}; the sum is unchanged`);
}

export function fitsInt64(x: bigint): boolean {
  return x >= INT64_MIN && x <= INT64_MAX;
}

/** sum + n, or sumOutOfRange when that leaves the signed 64-bit range */
export function addWithinInt64(sum: bigint, n: bigint): bigint {
  const next = sum + n;
  if (!fitsInt64(next)) throw sumOutOfRange(n);
  return next;
}

/** the optimistic strategy ran out of attempts: 409, nothing was added */
export class SumConflictError extends ConflictError {
  constructor(readonly conflicts: number) {
    super(
      `the sum changed under this add ${conflicts} times in a row (optimistic strategy); nothing was added: try again`,
    );
    this.name = 'SumConflictError';
  }
}

/** what a store accepts to add: an integer within the signed 64-bit range, as a bigint */
export function toAddend(n: bigint | number): bigint {
  if (typeof n === 'number' && !Number.isSafeInteger(n))
    throw new ValidationError(`number must be a safe integer, got ${n}`);
  const b = BigInt(n);
  if (!fitsInt64(b)) throw new ValidationError(`number must be a signed 64-bit integer, got ${b}`);
  return b;
}

/** jittered wait before optimistic attempt `attempt` (2, 3, ...): up to 1, 2, 4, 8, 16 ms, then 16 */
export function optimisticJitterMs(attempt: number, random: () => number = Math.random): number {
  return random() * 2 ** Math.min(attempt - 2, 4);
}

/**
 * The sum in JSON: a number while it is a safe integer (|sum| <= 2^53-1), else its exact decimal
 * string, so no client ever reads a rounded sum (JSON numbers are doubles in most parsers).
 */
export function sumToJson(sum: bigint): number | string {
  return sum <= MAX_SAFE && sum >= -MAX_SAFE ? Number(sum) : sum.toString();
}

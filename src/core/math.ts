/** The math tasks: what they compute. Sync /add and async tasks share it. */
import { ValidationError } from './errors';

export const MATH_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type MathOp = (typeof MATH_OPS)[number];

export interface MathParams {
  a: number;
  b: number;
  op: MathOp;
}

function apply({ a, b, op }: MathParams): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      if (b === 0)
        throw new ValidationError('b must not be 0 for op=div', [{ field: 'b', message: 'division by zero' }]);
      return a / b;
  }
}

/**
 * a op b, or a ValidationError when the result is not a finite number (1e308 mul 10 overflows a
 * double): JSON has no Infinity, so such a result would be sent as null. The API answers it as a
 * 400 naming `result`; a task fails with it (FAILURE at once: no retry mends it).
 */
export function compute(params: MathParams): number {
  const result = apply(params);
  if (!Number.isFinite(result)) {
    const message = `the result of ${params.a} ${params.op} ${params.b} is not a finite number (it overflows a double)`;
    throw new ValidationError(message, [{ field: 'result', message: 'not a finite number' }]);
  }
  return result;
}

/** Seed 000/001: the math of the math wizard. Sync /add and async tasks share it. */
import { ValidationError } from './errors';

export const MATH_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type MathOp = (typeof MATH_OPS)[number];

export interface MathParams {
  a: number;
  b: number;
  op: MathOp;
}

export function compute({ a, b, op }: MathParams): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      if (b === 0) throw new ValidationError('b must not be 0 for op=div', [{ field: 'b', message: 'division by zero' }]);
      return a / b;
  }
}

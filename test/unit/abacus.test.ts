/** The abacus's rules, pure: the 64-bit bounds, the sum in JSON, the optimistic jitter, the body. */
import {
  addWithinInt64,
  INT64_MAX,
  INT64_MIN,
  optimisticJitterMs,
  sumOutOfRange,
  sumToJson,
  toAddend,
} from '../../src/core/abacus';
import { UnprocessableError, ValidationError } from '../../src/core/errors';
import { abacusBody, parseInput } from '../../src/core/schemas';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

test('the sum is a JSON number while it is a safe integer, an exact decimal string beyond', () => {
  expect(sumToJson(0n)).toBe(0);
  expect(sumToJson(MAX_SAFE)).toBe(Number.MAX_SAFE_INTEGER);
  expect(sumToJson(-MAX_SAFE)).toBe(-Number.MAX_SAFE_INTEGER);
  expect(sumToJson(MAX_SAFE + 1n)).toBe('9007199254740992');
  expect(sumToJson(-MAX_SAFE - 2n)).toBe('-9007199254740993');
  expect(sumToJson(INT64_MIN)).toBe('-9223372036854775808');
});

test('adding within the signed 64-bit range is exact; past either bound it is a 422 naming the bound', () => {
  expect(addWithinInt64(INT64_MAX - 1n, 1n)).toBe(INT64_MAX);
  expect(addWithinInt64(INT64_MIN + 1n, -1n)).toBe(INT64_MIN);
  expect(() => addWithinInt64(INT64_MAX, 1n)).toThrow(UnprocessableError);
  expect(() => addWithinInt64(INT64_MAX, 1n)).toThrow(
    'adding 1 would take the sum above 9223372036854775807 (2^63-1, the signed 64-bit maximum); the sum is unchanged',
  );
  expect(() => addWithinInt64(INT64_MIN, -2n)).toThrow(
    'adding -2 would take the sum below -9223372036854775808 (-2^63, the signed 64-bit minimum)',
  );
  expect(sumOutOfRange(5n).code).toBe('unprocessable');
});

test('an addend must be a safe integer number or a bigint within the signed 64-bit range', () => {
  expect(toAddend(-5)).toBe(-5n);
  expect(toAddend(INT64_MIN)).toBe(INT64_MIN);
  expect(() => toAddend(0.5)).toThrow(ValidationError);
  expect(() => toAddend(Number.NaN)).toThrow(ValidationError);
  expect(() => toAddend(INT64_MAX + 1n)).toThrow(ValidationError);
});

test('the optimistic jitter doubles from 1 ms up to 16 ms and stays there', () => {
  const top = (attempt: number) => optimisticJitterMs(attempt, () => 1);
  expect([2, 3, 4, 5, 6, 7, 10].map(top)).toEqual([1, 2, 4, 8, 16, 16, 16]);
  expect(optimisticJitterMs(5, () => 0)).toBe(0);
});

test.each([
  [{ number: 42 }, null],
  [{ number: -Number.MAX_SAFE_INTEGER }, null],
  [{ number: 1.5 }, 'number must be an integer from -9007199254740991 to 9007199254740991'],
  [{ number: '42' }, 'number must be an integer from -9007199254740991 to 9007199254740991'],
  [{ number: 2 ** 53 }, 'number must be an integer from -9007199254740991 to 9007199254740991'],
  [{}, 'number must be an integer from -9007199254740991 to 9007199254740991'],
  [{ number: 1, extra: true }, 'unknown field: extra'],
  [[1], 'body must be a JSON object {number}'],
  [undefined, 'body must be a JSON object {number}'],
])('abacus body %j → %s', (body, message) => {
  if (message === null) expect(parseInput(abacusBody, body)).toEqual(body);
  else expect(() => parseInput(abacusBody, body)).toThrow(message);
});

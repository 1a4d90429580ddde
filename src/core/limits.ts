/** The bounds of a prime count, in a module of their own: the CLI checks its flags against them without loading the request schemas (zod). */
export const PRIMES_MIN_N = 10_000;
export const PRIMES_MAX_N = 1e12;
export const PRIMES_MAX_CHUNKS = 128;

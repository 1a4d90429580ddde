/**
 * `npm run bench:primes`: the prime-counting kernel against primesieve on one thread, at 1e8 and
 * 1e9. Prints one JSON object, { kernel: [...] }, on stdout.
 */
import { benchKernel, KernelBenchResult } from './primes-kernel';

const SIZES = [1e8, 1e9];

async function main(): Promise<void> {
  const kernel: KernelBenchResult[] = [];
  for (const n of SIZES) kernel.push(await benchKernel(n));
  process.stdout.write(`${JSON.stringify({ kernel }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

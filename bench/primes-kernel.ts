/**
 * The prime-counting kernel against primesieve (https://github.com/kimwalisch/primesieve), the
 * reference segmented sieve in C++, on one thread each: countPrimesUpTo(n) in this process
 * versus `primesieve n --count --threads=1 --time`, with the time primesieve reports itself
 * (the sieve alone, without process start-up). Each side is the best of 3 alternating runs,
 * after a warm-up of the kernel.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { countPrimesUpTo } from '../src/core/sieve';

const execFileAsync = promisify(execFile);

export interface KernelBenchResult {
  n: number;
  /** Best wall-clock seconds of countPrimesUpTo(n) in this process. */
  wizard_sec: number;
  /** Best seconds reported by primesieve, or null when primesieve could not be run. */
  primesieve_sec: number | null;
  /** wizard_sec / primesieve_sec, or null without primesieve. */
  ratio: number | null;
  count: number;
  primesieve_count: number | null;
  /** Why primesieve_sec is null. */
  primesieve_error?: string;
}

export interface Timed {
  sec: number;
  count: number;
}

/** Runs of each side; they alternate, so that both see the same load on a shared machine. */
const RUNS = 3;
/**
 * Untimed kernel runs first: they build its tables and give V8's optimizing compiler, which
 * runs on a background thread and lags on a busy machine, time to finish.
 */
const WARM_UP_RUNS = 3;
const WARM_UP_N = 1e8;

export async function benchKernel(n: number): Promise<KernelBenchResult> {
  for (let i = 0; i < WARM_UP_RUNS; i++) countPrimesUpTo(WARM_UP_N);
  let wizard = timeKernel(n);
  let primesieve: Timed | undefined;
  let primesieveError: string | undefined;
  for (let run = 1; run <= RUNS; run++) {
    if (run > 1) wizard = faster(wizard, timeKernel(n));
    if (primesieveError !== undefined) continue;
    try {
      primesieve = faster(primesieve, await timePrimesieve(n));
    } catch (err) {
      primesieveError = describeSpawnError(err);
    }
  }
  if (primesieveError !== undefined || !primesieve) {
    return {
      n,
      wizard_sec: wizard.sec,
      primesieve_sec: null,
      ratio: null,
      count: wizard.count,
      primesieve_count: null,
      primesieve_error: primesieveError,
    };
  }
  if (primesieve.count !== wizard.count) {
    throw new Error(`π(${n}): wizard counted ${wizard.count}, primesieve ${primesieve.count}`);
  }
  return {
    n,
    wizard_sec: wizard.sec,
    primesieve_sec: primesieve.sec,
    ratio: round(wizard.sec / primesieve.sec),
    count: wizard.count,
    primesieve_count: primesieve.count,
  };
}

function timeKernel(n: number): Timed {
  const start = process.hrtime.bigint();
  const count = countPrimesUpTo(n);
  return { sec: Number(process.hrtime.bigint() - start) / 1e9, count };
}

/** `primesieve n --count --threads=1 --time -q` prints "Seconds: 0.086" then the count. */
export async function timePrimesieve(n: number, threads = 1): Promise<Timed> {
  const { stdout } = await execFileAsync('primesieve', [String(n), '--count', `--threads=${threads}`, '--time', '-q']);
  const seconds = /Seconds:\s*([\d.]+)/.exec(stdout);
  const count = /^(\d+)\s*$/m.exec(stdout);
  if (!seconds || !count) throw new Error(`unexpected primesieve output: ${JSON.stringify(stdout)}`);
  return { sec: Number(seconds[1]), count: Number(count[1]) };
}

function faster(best: Timed | undefined, next: Timed): Timed {
  return best && best.sec <= next.sec ? best : next;
}

function describeSpawnError(err: unknown): string {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return 'primesieve not found on PATH (Debian: apt-get install primesieve-bin)';
  }
  return `primesieve failed: ${err instanceof Error ? err.message : String(err)}`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

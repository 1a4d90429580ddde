/** Real `wizard` processes for e2e tests: spawned from the built binary, killed for real. */
import fs from 'node:fs';
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { assetPath } from '../../src/util/package-root';

export const WIZARD_BIN = assetPath('bin', 'wizard');

export interface WizardProc {
  proc: ChildProcess;
  name: string;
  output(): string;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<WizardProc>();

/**
 * Spawned API nodes have no rate limit unless a test asks for one: the suite sends tens of
 * thousands of requests from 127.0.0.1 (fuzzing, load tests), far past the default budget.
 * The datalake's day files go to a temp directory of this jest worker's (a directory per prefix
 * under it), not the checkout's ./data.
 */
export const TEST_LAKE_DIR = path.join(os.tmpdir(), `wizard-test-lake-${process.pid}`);
const TEST_ENV = { NO_COLOR: '1', RATE_LIMIT_MAX: '0', WIZARD_DATALAKE_DIR: TEST_LAKE_DIR };

/** exactEnv: the process gets `env` and nothing else (not this process's, not TEST_ENV): a deploy's environment as it is */
export interface SpawnOptions {
  exactEnv?: boolean;
  /** another build's bin/wizard (a previous release: test/helpers/release.ts) */
  bin?: string;
}

export interface WizardRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const runEnv = (env: Record<string, string>, o: SpawnOptions) =>
  o.exactEnv ? env : { ...process.env, ...TEST_ENV, ...env };
const RUN_TIMEOUT_MS = 30_000;

/** run `wizard <args>` to its end: its exit code and what it printed */
export function runWizard(args: string[], env: Record<string, string> = {}, o: SpawnOptions = {}): WizardRun {
  const r = spawnSync(process.execPath, [WIZARD_BIN, ...args], {
    encoding: 'utf8',
    env: runEnv(env, o),
    timeout: RUN_TIMEOUT_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * runWizard without blocking this process meanwhile: timers, sockets and other processes' output
 * keep being served (a synchronous run stalls the test's event loop for the whole start-up)
 */
export function runWizardAsync(
  args: string[],
  env: Record<string, string> = {},
  o: SpawnOptions = {},
): Promise<WizardRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [o.bin ?? WIZARD_BIN, ...args],
      { encoding: 'utf8', env: runEnv(env, o), timeout: RUN_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (typeof err?.code === 'string') return reject(err); // it did not start
        resolve({ code: err ? (err.code ?? null) : 0, stdout, stderr }); // null: killed (its timeout), as spawnSync says
      },
    );
  });
}

export function spawnWizard(
  args: string[],
  env: Record<string, string> = {},
  name = args[0],
  o: SpawnOptions = {},
): WizardProc {
  const proc = spawn(process.execPath, [o.bin ?? WIZARD_BIN, ...args], {
    env: o.exactEnv ? env : { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...TEST_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    listeners.forEach((l) => l());
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const p: WizardProc = {
    proc,
    name,
    output: () => out,
    waitForOutput(re, timeoutMs = 45_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`${name}: no output matching ${re} within ${timeoutMs} ms; output so far:\n${out.slice(-3000)}`),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    exited,
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  running.add(p);
  void exited.then(() => running.delete(p));
  return p;
}

/** SIGKILL whatever a test left running */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
}

export async function waitUntil<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export async function http<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: the test will see the text */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** a file that processes append lines of space-separated fields to: its lines' fields, none when it does not exist yet */
export function fieldsOf(file: string): string[][] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '));
}

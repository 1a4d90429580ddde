/**
 * `wizard bot --exec "<command>"`: a bot's job run by a command of the user's.
 *
 * The command runs through the shell (`/bin/sh -c`), in a process group of its own, with the
 * job's params as JSON on stdin and WIZARD_JOB_ID, WIZARD_JOB_TYPE, WIZARD_JOB_ATTEMPT (1 on the
 * first run) in its environment, and the job's trace context as TRACEPARENT (and TRACESTATE): the
 * bot's span of the attempt when tracing is on, else the context the job keeps. Of the bot's own environment it gets only an allow-list, as a CI
 * runner's step does: EXEC_ENV (PATH, HOME, LANG, TZ, TRACEPARENT) and the names the bot was
 * given with --exec-env; never the bot's token (WIZARD_TOKEN), a REDIS_URL, ADMIN_TOKEN or
 * WIZARD_TOKENS_FILE unless named there. Exit 0 with JSON on stdout: that JSON is the result. Exit 0
 * with anything else on stdout, or any other exit: an error (the job's attempt fails) whose
 * message is the reason (the last line of stderr for a non-zero exit). Exit 75 (EX_TEMPFAIL): it met
 * the limit of what it calls (rate_limited), the wait in its stdout's JSON `retry_after_ms`.
 *
 * `signal` aborted (the job taken back, the bot stopping): the whole group gets SIGTERM, then
 * SIGKILL after graceMs, and the promise rejects with the abort's reason. A group still running
 * when this process exits is SIGKILLed.
 */
import { spawn } from 'node:child_process';
import { EXEC_RATE_LIMITED_EXIT, RATE_LIMITED_HOLD_MS } from '../core/defaults';
import type { JobView } from './api/views';
import type { TraceContext } from '../util/tracing';

/** what a command may print before the rest is dropped (a result is a JSON value, not a log) */
const MAX_OUTPUT = 4 * 1024 * 1024;
/** a failure's reason, as long as the API takes it */
const MAX_REASON = 1000;

export const EXEC_GRACE_MS = 5_000;

export class CommandError extends Error {}

/** the variables of the bot's environment a command gets without being named by --exec-env */
export const EXEC_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TRACEPARENT'] as const;

/** what --exec-env takes: a variable's name */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** the command's environment: the allow-listed variables the bot has (EXEC_ENV and `names`), then the job's */
export function commandEnv(
  job: Pick<JobView, 'job_id' | 'type' | 'attempts'>,
  names: readonly string[] = [],
  from: NodeJS.ProcessEnv = process.env,
  trace: TraceContext | null = null,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...EXEC_ENV, ...names]) {
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return {
    ...env,
    WIZARD_JOB_ID: job.job_id,
    WIZARD_JOB_TYPE: job.type,
    WIZARD_JOB_ATTEMPT: String(Math.max(1, job.attempts)),
    ...(trace ? { TRACEPARENT: trace.traceparent } : {}),
    ...(trace?.tracestate ? { TRACESTATE: trace.tracestate } : {}),
  };
}

/** the process groups of the commands running now: killed if this process exits before they end */
const running = new Set<number>();
let exitHook = false;
function track(pid: number): void {
  running.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of running) killGroup(p, 'SIGKILL');
  });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

const clip = (s: string) => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s);

/**
 * a command that exited EXEC_RATE_LIMITED_EXIT (75, EX_TEMPFAIL) met the limit of what it calls: a
 * rate_limited error, its wait the retry_after_ms of its stdout's JSON ({"retry_after_ms": 3000}),
 * else RATE_LIMITED_HOLD_MS (docs/flow-control.md "Rate limits")
 */
function rateLimited(stdout: string, why: string): CommandError {
  let ms: unknown;
  try {
    ms = (JSON.parse(stdout) as { retry_after_ms?: unknown } | null)?.retry_after_ms;
  } catch {
    ms = undefined;
  }
  return Object.assign(new CommandError(clip(why || 'command met a rate limit')), {
    code: 'rate_limited',
    retry_after_ms: typeof ms === 'number' ? ms : RATE_LIMITED_HOLD_MS,
  });
}

/** the last line of a command's stderr that is not blank */
export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

export function runCommand(
  command: string,
  job: Pick<JobView, 'job_id' | 'type' | 'attempts' | 'params' | 'deps'>,
  signal: AbortSignal,
  graceMs = EXEC_GRACE_MS,
  envNames: readonly string[] = [],
  trace: TraceContext | null = null,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true, // its own process group: a kill reaches what the shell started too
      stdio: ['pipe', 'pipe', 'pipe'],
      env: commandEnv(job, envNames, process.env, trace),
    });
    let stdout = '';
    let stderr = '';
    const take = (to: 'out' | 'err') => (d: Buffer) => {
      if (to === 'out' && stdout.length < MAX_OUTPUT) stdout += d.toString();
      if (to === 'err') stderr = (stderr + d.toString()).slice(-64 * 1024);
    };
    child.stdout.on('data', take('out'));
    child.stderr.on('data', take('err'));
    child.stdin.on('error', () => undefined); // a command that does not read its stdin
    // a flow's node gets its deps' outcomes under deps (docs/flows.md)
    child.stdin.end(JSON.stringify(job.deps ? { ...job.params, deps: job.deps } : (job.params ?? {})));

    if (child.pid !== undefined) track(child.pid);
    let killTimer: NodeJS.Timeout | null = null;
    const abort = () => {
      killGroup(child.pid!, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), graceMs);
    };
    signal.addEventListener('abort', abort, { once: true });

    child.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      reject(new CommandError(`command could not start: ${err.message}`));
    });
    child.once('close', (code, sig) => {
      running.delete(child.pid!);
      signal.removeEventListener('abort', abort);
      if (killTimer) clearTimeout(killTimer);
      if (signal.aborted) return reject(signal.reason);
      if (code === 0) {
        try {
          return resolve(JSON.parse(stdout));
        } catch {
          const shown = stdout.trim() === '' ? 'nothing' : `'${clip(stdout.trim()).slice(0, 200)}'`;
          return reject(new CommandError(`command exited 0 but its stdout is not JSON: it printed ${shown}`));
        }
      }
      const why = lastLine(stderr);
      if (code === EXEC_RATE_LIMITED_EXIT) return reject(rateLimited(stdout, why));
      reject(new CommandError(clip(why || (sig ? `command killed by ${sig}` : `command exited with code ${code}`))));
    });
  });
}

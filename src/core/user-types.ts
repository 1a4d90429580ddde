/**
 * Job types from a module (`--handlers <file>`, WIZARD_HANDLERS): its default export maps type
 * names to definitions
 *
 *   { params: <JSON Schema>, run(params, ctx), cpu?, attempts?, backoff_ms?, timeout_ms?, queue? }
 *
 * (no run: bots do it, and a queue is needed). Each is checked here, at the role's start: a wrong
 * one is a UsageError (exit 2) of one line naming the type and the field. The checked types join
 * the registry (handlers.ts) that workers, the API, the scheduler and the reaper consult.
 */
import path from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import { BackoffPolicy, DEFAULT_BACKOFF } from './backoff';
import { errorMessage, UsageError } from './errors';
import { exportedTable, importFile } from './module-load';
import { BUILTIN_TYPES, HandlerSpec, registerTypes, specFor, UserType, userTypes } from './handlers';
import { isSafeName, SAFE_ALPHABET } from './ids';
import { setValidator } from './user-params';

const FIELDS = ['params', 'run', 'cpu', 'attempts', 'backoff_ms', 'timeout_ms', 'queue'];
const TYPE_NAME = /^[A-Za-z][\w.:-]{0,63}$/;
/** an attempt's timeout when neither the job nor its type names one (ms) */
export const USER_TIMEOUT_MS = 10 * 60_000;

const ajv = new Ajv({ allErrors: false, strict: false });

function positiveInt(v: unknown, max: number): boolean {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
}

/**
 * a module's table, checked: the specs to register, or a UsageError naming the type and field.
 * `file` is the module's absolute path (a CPU type's pool threads load it again).
 */
export function checkTypes(table: unknown, file: string): Record<string, HandlerSpec> {
  const where = `--handlers ${file}`;
  if (typeof table !== 'object' || table === null || Array.isArray(table))
    throw new UsageError(`${where}: the default export must be an object mapping type names to definitions`);
  const out: Record<string, HandlerSpec> = {};
  for (const [name, def] of Object.entries(table)) {
    const bad = (field: string, msg: string) => new UsageError(`${where}: type ${name}: ${field} ${msg}`);
    if (BUILTIN_TYPES.includes(name))
      throw new UsageError(`${where}: type ${name}: the name is a built-in type (${BUILTIN_TYPES.join(', ')})`);
    if (!TYPE_NAME.test(name))
      throw new UsageError(`${where}: type ${name}: the name must be a letter then up to 63 letters, digits, _ . : -`);
    if (typeof def !== 'object' || def === null || Array.isArray(def))
      throw new UsageError(`${where}: type ${name}: the definition must be an object`);
    const d = def as Record<string, unknown>;
    const unknown = Object.keys(d).find((k) => !FIELDS.includes(k));
    if (unknown !== undefined) throw bad(unknown, `is not a field of a type (${FIELDS.join(', ')})`);
    if (d.run !== undefined && typeof d.run !== 'function') throw bad('run', 'must be a function');
    if (d.cpu !== undefined && typeof d.cpu !== 'boolean') throw bad('cpu', 'must be true or false');
    if (d.attempts !== undefined && !positiveInt(d.attempts, 100))
      throw bad('attempts', 'must be an integer from 1 to 100');
    if (
      d.backoff_ms !== undefined &&
      !(Number.isInteger(d.backoff_ms) && (d.backoff_ms as number) >= 0 && (d.backoff_ms as number) <= 86_400_000)
    )
      throw bad('backoff_ms', 'must be an integer from 0 to 86400000');
    if (d.timeout_ms !== undefined && !positiveInt(d.timeout_ms, 86_400_000))
      throw bad('timeout_ms', 'must be an integer from 1 to 86400000');
    if (d.queue !== undefined && (typeof d.queue !== 'string' || !isSafeName(d.queue, 1, 64)))
      throw bad('queue', `must be 1-64 of ${SAFE_ALPHABET}`);
    if (d.run === undefined && d.queue === undefined)
      throw bad('run', 'must be a function (or give a queue for bots to take the jobs from)');
    if (d.run === undefined && d.cpu === true) throw bad('cpu', 'needs a run function');
    const params = d.params ?? { type: 'object' };
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw bad('params', 'must be a JSON Schema (an object)');
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(params as Record<string, unknown>);
      setValidator(name, validate); // used once the type is registered (checkUserParams asks the registry)
    } catch (err) {
      throw bad('params', `is not a valid JSON Schema: ${errorMessage(err).split('\n')[0]}`);
    }
    const policy: BackoffPolicy = {
      ...DEFAULT_BACKOFF,
      maxAttempts: (d.attempts as number | undefined) ?? 3,
      ...(d.backoff_ms !== undefined
        ? { baseMs: d.backoff_ms as number, maxMs: Math.max(DEFAULT_BACKOFF.maxMs, d.backoff_ms as number) }
        : {}),
    };
    const timeoutMs = (d.timeout_ms as number | undefined) ?? USER_TIMEOUT_MS;
    const run = d.run as UserType['run'];
    out[name] = {
      policy,
      cpu: d.cpu === true,
      timeoutMs: () => timeoutMs,
      // what runs it is a worker (with its context) or, with no run, a bot with --exec: never a built-in bot
      run: () => {
        throw new Error(
          run
            ? `type ${name} is a --handlers type that workers run, not bots`
            : `type ${name} has no run: only a bot started with --exec runs it`,
        );
      },
      user: {
        file,
        params: params as Record<string, unknown>,
        ...(d.queue !== undefined ? { queue: d.queue as string } : {}),
        ...(run ? { run } : {}),
      },
    };
  }
  return out;
}

/**
 * the bot queue (--bot-queue) is the built-in bots' (seed 004's sim work, tasks): they cannot run
 * a module's type, so no type may send its jobs there. A type for bots with --exec has a queue of
 * its own, and those bots claim from it (`wizard bot --exec … --queue <it>`).
 */
export function checkBotQueue(botQueue: string): void {
  for (const [name, type] of userTypes()) {
    if (type.queue !== botQueue) continue;
    throw new UsageError(
      `--handlers ${type.file}: type ${name}: queue '${botQueue}' is the built-in bots' queue (--bot-queue), and they run only sim and task jobs: ` +
        `give the type a queue of its own${type.run ? '' : ', for bots started with --exec and --queue <it>'}`,
    );
  }
}

/** the module's types for a log line: `wordcount, hash (cpu), upload (no run: bots with --exec, queue uploads)` */
export function typesLine(): string {
  return userTypes()
    .map(([name, t]) => {
      const how = t.run === undefined ? [`no run: bots with --exec`] : specFor(name)?.cpu ? ['cpu'] : [];
      const where = t.queue !== undefined ? [`queue ${t.queue}`] : [];
      const notes = [...how, ...where];
      return notes.length ? `${name} (${notes.join(', ')})` : name;
    })
    .join(', ');
}

/** load a module's types and add them to the registry; a module that does not load is a UsageError */
export async function loadHandlers(file: string): Promise<string[]> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = await importFile(abs);
  } catch (err) {
    throw new UsageError(`--handlers ${abs}: the module does not load: ${errorMessage(err).split('\n')[0]}`);
  }
  const types = checkTypes(exportedTable(mod), abs);
  registerTypes(types);
  return Object.keys(types);
}

/**
 * Running a long-lived role from the CLI: open the store, claim the node id, start, and on the
 * first SIGTERM or SIGINT close gracefully (exit 0); a second signal exits at once.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StoreUnavailableError, UsageError, errorMessage } from '../core/errors';
import type { Store } from '../store/types';
import { createLogger } from '../util/log';
import { flushTracing, traceRole } from '../util/tracing';
import { retryDelay, sleep } from '../util/time';
import { defaultNodeId, storeFromFlags, StoreFlags } from './store-options';

export interface Closable {
  close(force?: boolean): Promise<void>;
}

/** a role's store, its claim on its node id (a no-op for a role that makes none) and its eye on Redis's eviction policy */
export interface RoleStore {
  store: Store;
  claim: Closable;
  /** the eviction watch (src/roles/eviction-watch.ts) and the format's (src/store/format.ts): close them with the role */
  watch: Closable;
}

/**
 * a role's store: opened, its eviction policy checked (a policy that can evict is a UsageError,
 * exit 2, unless --allow-eviction: src/roles/eviction-watch.ts), its prefix joined
 * (src/store/format.ts) and, with claimId, its `--node-id` claimed (claimNodeId). It then logs
 * which Redis and prefix this role joined and whether they were new, and the job types of its
 * --handlers module (checked before, with its flags: a usage error stays one line): a refused
 * node id is one line and nothing else. A prefix of a newer or incompatible format is a
 * UsageError (exit 2). A Redis that is away at start is waited for.
 */
export async function roleStore(
  flags: StoreFlags & { handlers?: string },
  role: string,
  claimId = false,
): Promise<RoleStore> {
  traceRole(role);
  const store = await storeFromFlags(flags);
  const { joinedLine, joinPrefix, watchFormat } = await import('../store/format');
  const { watchEviction } = await import('../roles/eviction-watch');
  const nodeId = flags.nodeId ?? defaultNodeId();
  const log = createLogger({ role, node_id: nodeId });
  let watch: Closable | null = null;
  try {
    // a Redis that is away at start is waited for, as a running role waits for it
    for (let failures = 0; ; failures++) {
      try {
        watch ??= await watchEviction(store, { allow: flags.allowEviction === true, log }); // before the role writes anything
        const line = joinedLine(store, flags.prefix, await joinPrefix(store));
        const claim = claimId ? await claimNodeId(store, role, nodeId) : { close: async () => undefined };
        if (line) log.info(line.msg, line.fields);
        if (flags.handlers !== undefined) await logTypes(log, flags.handlers);
        const format = watchFormat(store, log); // an upgrade finished while it runs (`wizard upgrade finish`)
        const eviction = watch;
        return {
          store,
          claim,
          watch: { close: () => Promise.all([format.close(), eviction.close()]).then(() => undefined) },
        };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (failures === 0)
          log.warn('store unavailable: waiting for it to join the prefix', {
            store: store.location,
            error: err.message,
          });
        await sleep(retryDelay(failures));
      }
    }
  } catch (err) {
    await watch?.close();
    await store.close();
    throw err;
  }
}

/** say which types the --handlers module gave this role (loaded and checked before: loadHandlersFlag) */
async function logTypes(log: ReturnType<typeof createLogger>, file: string): Promise<void> {
  const { typesLine } = await import('../core/user-types');
  log.info('job types loaded', { file: path.resolve(file), types: typesLine() });
}

/** how long a role signalled during its start-up has to finish starting before it just exits 0 */
const START_GRACE_MS = 3_000;

/** the running role's graceful stop (set by untilSignal), and whether a signal came */
let stopRole: (() => void) | null = null;
let signalled = false;
let trapped = false;
let startGrace: NodeJS.Timeout | null = null;

/**
 * SIGTERM and SIGINT handlers, installed before a role prints or opens anything (src/cli.ts runs
 * this before a role's action), so a signal at any moment is a clean exit: once the role runs,
 * its graceful stop (untilSignal); during its start-up, the start-up may finish for up to
 * START_GRACE_MS and is then stopped gracefully, or else the process exits 0 (a Redis away at
 * start is not waited for). A second signal exits at once (130).
 */
export function trapSignals(): void {
  if (trapped) return;
  trapped = true;
  const onSignal = () => {
    if (signalled) process.exit(130);
    signalled = true;
    if (stopRole) return stopRole();
    startGrace = setTimeout(() => process.exit(0), START_GRACE_MS); // what holds the loop (a wait for Redis) ends here
    startGrace.unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * the role is running: on the first signal (or at once, when one came during its start-up) close
 * its parts, then the store (null: a role with no store of its own, a bot), and resolve
 */
export function untilSignal(store: Store | null, parts: Closable[]): Promise<void> {
  trapSignals();
  return new Promise((resolve) => {
    stopRole = () => {
      stopRole = () => undefined;
      void (async () => {
        for (const p of parts) await p.close().catch(() => undefined);
        await store?.close();
        await flushTracing(); // the spans of the last attempts
        resolve();
        // anything still holding the event loop (a slow socket) must not keep a stopped role alive
        setTimeout(() => process.exit(0), 200).unref();
      })();
    };
    if (startGrace) clearTimeout(startGrace); // started in time: the graceful stop takes what it needs
    if (signalled) stopRole();
  });
}

/** how long a node id stays claimed after its process stopped renewing it (SIGKILL, a lost host) */
export const NODE_CLAIM_TTL_MS = 15_000;

/** whether a process of this host runs with that pid (EPERM: it does, as another user) */
function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per `--node-id` and role: the id is claimed in the store (holdLock: SET NX with a
 * TTL, the key `{prefix}:lock:node:<role>:<id>`) by "<host> <pid> <random>", renewed every third
 * of the TTL and released on a clean shutdown. While another live process holds it, this one is
 * refused (UsageError: exit 2). A claim its process left behind lapses after NODE_CLAIM_TTL_MS; on
 * the same host it is taken over at once when that pid runs no more, or is this process's own
 * (a container restarted: pid 1 again). While the store is away the claim waits for it.
 */
export async function claimNodeId(
  store: Store,
  role: string,
  nodeId: string,
  ttlMs = NODE_CLAIM_TTL_MS,
): Promise<Closable> {
  const log = createLogger({ role, node_id: nodeId });
  const name = `node:${role}:${nodeId}`;
  const me = `${os.hostname()} ${process.pid} ${randomUUID().slice(0, 8)}`;
  const take = async (): Promise<boolean> => {
    if (await store.nodes.holdLock(name, me, ttlMs)) return true;
    const other = await store.nodes.lockHolder(name);
    if (other === null) return store.nodes.holdLock(name, me, ttlMs); // it lapsed meanwhile
    const [host, pid] = other.split(' ');
    if (host !== os.hostname() || (Number(pid) !== process.pid && pidRunning(Number(pid)))) {
      throw new UsageError(
        `--node-id ${nodeId} is taken by a live ${role} (host ${host}, pid ${pid}): give this one another id, or wait up to ${ttlMs / 1000} s after that process stopped`,
      );
    }
    await store.nodes.releaseLock(name, other); // its process is gone: compare-and-delete, then take it
    return store.nodes.holdLock(name, me, ttlMs);
  };
  for (let failures = 0; ; failures++) {
    try {
      if (await take()) break;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (failures === 0)
        log.warn('cannot claim the node id yet: the store is away, retrying', { error: errorMessage(err) });
      await sleep(retryDelay(failures));
    }
  }
  let lost = false;
  const renew = setInterval(
    () => {
      store.nodes.holdLock(name, me, ttlMs).then(
        (held) => {
          if (!held && !lost)
            log.error(`--node-id ${nodeId} is now claimed by another process: two ${role}s share one node id`, {
              holder: me,
            });
          lost = !held;
        },
        () => undefined, // the store is away: the next renewal tries again
      );
    },
    Math.max(100, Math.floor(ttlMs / 3)),
  );
  return {
    async close() {
      clearInterval(renew);
      await store.nodes.releaseLock(name, me).catch(() => undefined);
    },
  };
}

/**
 * a port a role will listen on is free: a UsageError naming the flag (and its variable) when it
 * is taken or the address is not this host's (the role binds it right after, before it starts
 * anything else; port 0 picks a free one)
 */
export async function checkListenable(
  port: number,
  host: string,
  portFlag: string,
  hostFlag: string,
  portEnv?: string,
): Promise<void> {
  if (port === 0) return;
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new UsageError(
        `${portFlag} ${port} is already in use on ${host}: give another with ${portFlag} <n>${portEnv ? ` or ${portEnv}=<n>` : ''}`,
      );
    if (code === 'EACCES') throw new UsageError(`${portFlag} ${port} needs privileges this process lacks`);
    throw new UsageError(`${hostFlag} ${host} cannot be listened on: ${code ?? errorMessage(err)}`);
  }
  await new Promise<void>((r) => server.close(() => r()));
}

/**
 * npm run bench:lua: Redis CPU per job of each queue script, one phase at a time: enqueue N
 * tasks (1,000 per call), claim them (BENCH_CLAIM, 32, per call), complete them (64 per call).
 * No worker process and no peer: a developer's tool for tuning src/store/lua.
 *
 * By default it reads INFO commandstats (microseconds, best of 3 rounds: noisy on a shared
 * machine). With BENCH_CALLGRIND=1 it runs redis-server under valgrind's callgrind, counting
 * only the instructions spent inside FCALL and EVAL/EVALSHA: the same count for the same scripts every
 * time, whatever else the machine is doing, so two versions of a script can be compared
 * exactly (N defaults to 2,000 there: valgrind is ~50x slower). `empty_call` is what one script
 * call costs before any work (checkJob of a job that does not exist: beginCall and one read),
 * in the same unit per call; BENCH_CLAIM=1 shows the claim's own fixed cost on top.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { RedisStore, pairsFromInfo } from '../src/store/redis';
import type { ClaimedJob } from '../src/store/types';
import { freePort, startRedisServer } from '../test/helpers/redis-server';

const CALLGRIND = process.env.BENCH_CALLGRIND === '1';
const N = Number(process.env.BENCH_N ?? (CALLGRIND ? 2000 : 20000));
const CLAIM = Number(process.env.BENCH_CLAIM ?? 32);
const ROUNDS = CALLGRIND ? 1 : 3;

/** redis-server under callgrind, collecting inside script calls only; dump() answers instructions since the last dump */
async function callgrindRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-callgrind-'));
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${dir}/cg.out`,
      '--toggle-collect=evalGenericCommand*',
      '--toggle-collect=fcallCommand',
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = createClient({ url, socket: { reconnectStrategy: 100 } });
  probe.on('error', () => undefined);
  await probe.connect();
  await probe.close();
  let dumps = 0;
  return {
    url,
    dump(): number {
      execFileSync('callgrind_control', ['-d', String(proc.pid)], { stdio: 'ignore' });
      const file = `${dir}/cg.out.${++dumps}`;
      for (let i = 0; i < 200 && !fs.existsSync(file); i++) execFileSync('sleep', ['0.05']);
      return Number(/^summary: (\d+)/m.exec(fs.readFileSync(file, 'utf8'))![1]);
    },
    async destroy() {
      proc.kill('SIGKILL');
      if (process.env.BENCH_CALLGRIND_KEEP) process.stderr.write(`callgrind dumps kept in ${dir}\n`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main() {
  const cg = CALLGRIND ? await callgrindRedis() : null;
  const own = cg || process.env.BENCH_REDIS_URL ? null : await startRedisServer();
  const url = cg?.url ?? process.env.BENCH_REDIS_URL ?? own!.url;
  const raw = createClient({ url });
  await raw.connect();
  const store = await new RedisStore({ url, prefix: `lua-cost-${process.pid}`, commandTimeoutMs: 60_000 }).connect();
  if (process.env.LAKE) await store.lake.configure({ records: process.env.LAKE });
  /** the cost of the scripts run since the last call: microseconds, or instructions under callgrind */
  const cost = async () => {
    if (cg) return cg.dump();
    const stats = pairsFromInfo(await raw.info('commandstats'));
    await raw.configResetStat();
    const usec = (cmd: string) => Number(/usec=(\d+)/.exec(String(stats[`cmdstat_${cmd}`]))?.[1] ?? 0);
    return usec('fcall') + usec('evalsha') + usec('eval');
  };
  const best: Record<string, number> = {};
  const keep = (k: string, v: number) => (best[k] = Math.min(best[k] ?? Infinity, v / N));
  await store.jobs.enqueue([]);
  await cost();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < N; i += 1000)
      await store.jobs.enqueue(
        Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
          type: 'task' as const,
          params: { a: i + k, b: 1, op: 'add' },
        })),
      );
    keep('enqueue', await cost());
    const held: ClaimedJob[] = [];
    for (;;) {
      const { jobs } = await store.jobs.claim('default', { consumer: 'w', max: CLAIM, leaseMs: 600_000 });
      if (!jobs.length) break;
      held.push(...jobs);
    }
    keep('claim', await cost());
    for (let i = 0; i < held.length; i += 64)
      await Promise.all(held.slice(i, i + 64).map((c) => store.jobs.complete(c.job.id, c.token, 3, c.job)));
    keep('complete', await cost());
    if (held.length !== N) throw new Error(`claimed ${held.length} of ${N}`);
  }
  // what any call costs before its work: what every call starts with (lib-call.lua's beginCall;
  // the whole prelude when the scripts run by EVALSHA) and one read, as checkJob of a job that does not exist is
  const CALLS = 20;
  for (let i = 0; i < CALLS; i++) await store.reads.check(`no-such-job-${i}`, 'lua-cost');
  const perCall = (await cost()) / CALLS;
  const r = (x: number) => (cg ? Math.round(x) : Math.round(x * 100) / 100);
  const total = best.enqueue + best.claim + best.complete;
  const out = {
    bench: 'lua-cost',
    unit: cg ? 'instructions per job' : 'us per job (best of 3)',
    n: N,
    claim_batch: CLAIM,
    enqueue: r(best.enqueue),
    claim: r(best.claim),
    complete: r(best.complete),
    total: r(total),
    empty_call: r(perCall),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  await store.close();
  await raw.close();
  await own?.destroy();
  await cg?.destroy();
}
main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});

/**
 * Other clients writing one key as fast as Redis takes it: `redis-benchmark` (redis-tools, a
 * dependency of redis-server) in a process of its own, 20 connections with 1,000 commands
 * pipelined each: Redis always holds a backlog of them, even while the flooding process waits
 * for a CPU, so between any two round trips of the code under test the key has been written.
 * Resolves once the flood is under way (Redis has counted 1,000 more such commands); it stops
 * on stop(), or by itself after 60 s.
 */
import { spawn } from 'node:child_process';
import { createClient } from 'redis';

export async function floodKey(redisUrl: string, command: string[]): Promise<{ stop(): Promise<void> }> {
  const u = new URL(redisUrl);
  const probe = createClient({ url: redisUrl });
  await probe.connect();
  const calls = async () => {
    const m = new RegExp(`^cmdstat_${command[0].toLowerCase()}:calls=(\\d+)`, 'm').exec(
      await probe.info('commandstats'),
    );
    return m ? Number(m[1]) : 0;
  };
  const before = await calls();
  const proc = spawn(
    'timeout',
    [
      '60',
      'redis-benchmark',
      '-h',
      u.hostname,
      '-p',
      u.port || '6379',
      '-c',
      '20',
      '-P',
      '1000',
      '-n',
      '100000000',
      '-q',
      ...command,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    for (let waited = 0; (await calls()) < before + 1000; waited += 10) {
      if (waited > 10_000 || proc.exitCode !== null)
        throw new Error(`redis-benchmark did not start flooding ${command.join(' ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    probe.destroy();
  }
  return {
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

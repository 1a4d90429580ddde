/**
 * A redis-server of the test file's own (for tests that stop and restart it), started before
 * its tests and destroyed after them, once every spawned process is gone.
 */
import { killAll } from './procs';
import { RedisServerOptions, startRedisServer, TestRedis } from './redis-server';

export function ownRedisServer(opts: RedisServerOptions = {}): () => TestRedis {
  let server: TestRedis;
  beforeAll(async () => {
    server = await startRedisServer(opts);
  });
  afterAll(async () => {
    await killAll();
    await server.destroy();
  });
  return () => server;
}

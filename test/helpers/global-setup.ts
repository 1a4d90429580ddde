/** Starts one redis-server for the whole run (tests that restart Redis start their own). */
import { startRedisServer } from './redis-server';

export default async function globalSetup(): Promise<void> {
  const server = await startRedisServer();
  process.env.WIZARD_TEST_REDIS_URL = server.url;
  (globalThis as { __wizardRedis?: unknown }).__wizardRedis = server;
}

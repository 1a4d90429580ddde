import type { TestRedis } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __wizardRedis?: TestRedis }).__wizardRedis;
  if (server) await server.destroy();
}

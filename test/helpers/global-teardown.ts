import type { SharedServers } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const shared = (globalThis as { __wizardServers?: SharedServers }).__wizardServers;
  if (!shared) return;
  await Promise.all([shared.redis.destroy(), shared.cluster?.then((c) => c?.destroy())]);
}

/** Per-file test context: the shared test Redis URL and a key prefix of the file's own. */
import { randomBytes } from 'node:crypto';

export function testRedisUrl(): string {
  const url = process.env.WIZARD_TEST_REDIS_URL;
  if (!url)
    throw new Error('WIZARD_TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts redis-server)');
  return url;
}

/** a prefix no other test file uses: `t-<name>-<random>` */
export function testPrefix(name: string): string {
  return `t-${name}-${randomBytes(3).toString('hex')}`;
}

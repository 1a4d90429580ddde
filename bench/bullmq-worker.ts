/**
 * The peer: a BullMQ worker process doing the same trivial task as `wizard worker` (a + b).
 * Arguments: redis URL, queue name, concurrency, the package to load: `bullmq` (the current
 * release) or `bullmq5` (5.81, installed under that alias), and optionally its Worker's `limiter`
 * as JSON (`{"max": 1000, "duration": 1000}`: bench:groups). Configured as BullMQ's docs advise:
 * a connection of its own with `maxRetriesPerRequest: null` (the worker duplicates it for its
 * blocking fetch), completed jobs kept as long as wizard keeps a finished job (an hour).
 */
import * as bullmq from 'bullmq';
import * as bullmq5 from 'bullmq5';

export const BULLMQ_PACKAGES = { bullmq, bullmq5: bullmq5 as unknown as typeof bullmq };
export type BullmqPackage = keyof typeof BULLMQ_PACKAGES;
/** wizard's default --result-ttl-ms, in seconds: BullMQ keeps completed jobs as long */
export const KEEP_COMPLETED_S = 3600;

if (require.main === module) {
  const [redisUrl, queueName, concurrency, pkg = 'bullmq', limiter] = process.argv.slice(2);
  const { Worker } = BULLMQ_PACKAGES[pkg as BullmqPackage];
  const url = new URL(redisUrl);
  const worker = new Worker(queueName, async (job) => job.data.a + job.data.b, {
    connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
    concurrency: Number(concurrency),
    removeOnComplete: { age: KEEP_COMPLETED_S },
    ...(limiter ? { limiter: JSON.parse(limiter) as { max: number; duration: number } } : {}),
  });
  worker.on('ready', () => process.stdout.write('bullmq worker ready\n'));
  process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
}

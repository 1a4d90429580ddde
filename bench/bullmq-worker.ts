/** The peer: a BullMQ worker process doing the same trivial task as `wizard worker` (a + b). */
import { Worker } from 'bullmq';

const [redisUrl, queueName, concurrency] = process.argv.slice(2);
const url = new URL(redisUrl);
const worker = new Worker(queueName, async (job) => job.data.a + job.data.b, {
  connection: { host: url.hostname, port: Number(url.port || 6379) },
  concurrency: Number(concurrency),
});
worker.on('ready', () => process.stdout.write('bullmq worker ready\n'));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));

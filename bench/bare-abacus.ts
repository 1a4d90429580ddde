/**
 * The abacus bench's peer: a bare Express route doing the least that POST /abacus/number must
 * do (the same JSON body parser with the same limit, a safe-integer check, one INCRBY on Redis,
 * the same reply fields), with the same app settings as `wizard api`, in a process of its own.
 * Usage: node bare-abacus.js <port> <redis url> <key>; prints "ready" once listening.
 */
import express from 'express';
import { createClient } from 'redis';

async function main(): Promise<void> {
  const [port, url, key] = process.argv.slice(2);
  const redis = createClient({ url });
  redis.on('error', () => undefined); // the bench stops Redis at the end
  await redis.connect();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '64kb', strict: false }));
  app.post('/abacus/number', async (req, res) => {
    const n: unknown = req.body?.number;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      res.status(400).json({ error: 'number must be an integer' });
      return;
    }
    const sum = await redis.incrBy(key, n);
    res.json({ new_sum: sum, added: n, timestamp: new Date().toISOString(), node_id: 'bare' });
  });
  app.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
}

main().catch((err) => {
  process.stderr.write(`bare-abacus failed: ${String(err)}\n`);
  process.exit(1);
});

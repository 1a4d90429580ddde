// Job types for `wizard worker|api|up --handlers examples/handlers/jobs.mjs` (ESM; CommonJS works too).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export default {
  // fast I/O work on the worker's event loop: it waits, reports progress, and stops when cancelled
  wordcount: {
    params: {
      type: 'object',
      required: ['text'],
      properties: { text: { type: 'string' }, delay_ms: { type: 'integer', minimum: 0 } },
      additionalProperties: false,
    },
    timeout_ms: 30_000,
    async run(params, ctx) {
      const words = params.text.split(/\s+/).filter(Boolean);
      for (let i = 0; i < words.length; i++) {
        if (params.delay_ms) await sleep(params.delay_ms, undefined, { signal: ctx.signal }); // rejects on cancel/timeout
        ctx.progress({ completed: i + 1, total: words.length });
      }
      ctx.log.info('counted', { words: words.length });
      return { words: words.length };
    },
  },

  // CPU-bound work in the worker's thread pool (the module is loaded in each thread)
  hash: {
    params: {
      type: 'object',
      required: ['text', 'rounds'],
      properties: { text: { type: 'string' }, rounds: { type: 'integer', minimum: 1, maximum: 10000000 } },
    },
    cpu: true,
    attempts: 2,
    run(params, ctx) {
      let h = params.text;
      for (let i = 1; i <= params.rounds; i++) {
        h = createHash('sha256').update(h).digest('hex');
        if (i % 100000 === 0) ctx.progress(i / params.rounds);
      }
      return { sha256: h };
    },
  },

  // no run: a bot with a command takes these from their own queue
  // (`wizard bot --queue uploads --exec "node examples/bot-command/run-job.js"`); the built-in bots,
  // which run seed 004's simulated work from the bot queue, never see them
  upload: {
    params: {
      type: 'object',
      required: ['url'],
      properties: { url: { type: 'string' }, text: { type: 'string' } },
      additionalProperties: false,
    },
    queue: 'uploads',
  },
};

#!/usr/bin/env node
// A bot command for `wizard bot --exec "node examples/bot-command/run-job.js"`.
//
// wizard runs it once per job: the job's params arrive as JSON on stdin, its id, type and attempt
// (1 on the first run) in WIZARD_JOB_ID, WIZARD_JOB_TYPE and WIZARD_JOB_ATTEMPT. What it prints on
// stdout, as JSON, is the job's result when it exits 0; any other exit fails the attempt with the
// last line it wrote to stderr (and the job type's retry policy applies). It is killed (SIGTERM,
// then SIGKILL) when the job is taken back or the bot stops, so a long job should stop cleanly on
// SIGTERM.
//
// This one does three types' work as a real program would:
// - a task {a, b, op} is computed;
// - seed 004's simulated job {duration_ms, failure_rate} sleeps (at most 60 s here) and fails at its rate;
// - an upload {url, text} (examples/handlers/jobs.mjs) sends the text to the url: PUT for http(s)://,
//   written to the file for file://; its result is {url, bytes} (and the HTTP status).
// Any other type fails: a command must not report success for work it did not do.
const fs = require('node:fs');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const params = JSON.parse(input || '{}');
  const job = {
    id: process.env.WIZARD_JOB_ID,
    type: process.env.WIZARD_JOB_TYPE,
    attempt: Number(process.env.WIZARD_JOB_ATTEMPT),
  };
  process.on('SIGTERM', () => {
    console.error(`job ${job.id}: stopped`);
    process.exit(143);
  });
  if (job.type === 'task') return task(params, job);
  if (job.type === 'sim') return sim(params, job);
  if (job.type === 'upload')
    return upload(params).catch((err) => fail(`upload to ${params.url}: ${err.cause?.code ?? err.message}`));
  fail(`run-job.js does not know the job type '${job.type}'`);
});

function task(params, job) {
  const ops = { add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b };
  const op = ops[params.op ?? 'add'];
  if (!op) fail(`unknown op ${params.op}`);
  const result = op(params.a, params.b);
  if (!Number.isFinite(result)) fail(`${params.a} ${params.op} ${params.b} is not a finite number`);
  done({ result, attempt: job.attempt });
}

function sim(params, job) {
  const ms = Math.min(Number(params.duration_ms ?? 0), 60_000);
  setTimeout(() => {
    if (Math.random() < Number(params.failure_rate ?? 0)) fail(`simulated failure (attempt ${job.attempt})`);
    done({ slept_ms: ms, batch: params.batch ?? null, attempt: job.attempt });
  }, ms);
}

async function upload({ url, text = '' }) {
  let target;
  try {
    target = new URL(url);
  } catch {
    fail(`upload: url must be a URL (http://, https:// or file://), got '${url}'`);
  }
  const bytes = Buffer.byteLength(text);
  if (target.protocol === 'file:') {
    fs.writeFileSync(target, text);
    return done({ url, bytes });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    fail(`upload: url must be http://, https:// or file://, got '${url}'`);
  const res = await fetch(target, { method: 'PUT', body: text, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) fail(`upload to ${url}: the server answered ${res.status}`);
  done({ url, bytes, status: res.status });
}

function done(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

function fail(reason) {
  console.error(reason);
  process.exit(1);
}

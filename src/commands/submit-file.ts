/**
 * `wizard submit --file jobs.ndjson`: one job a line ({type, params, ...options} as POST /jobs
 * takes it; blank lines skipped), made in one POST /jobs/bulk. A bad line is exit 2 naming
 * --file and the line: one the CLI cannot read, or one the API refuses (its jobs.<index> mapped
 * back to the line).
 */
import { readFileSync } from 'node:fs';
import type { ApiClient } from '../client/http';
import type { Reply } from '../client/replies';
import { errorMessage, UsageError, WizardError } from '../core/errors';
import { MAX_BULK_JOBS } from '../core/schemas';

/** the jobs of the file, and the line each came from */
export function readJobsFile(path: string): { jobs: Record<string, unknown>[]; lines: number[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--file ${path}: cannot read it: ${errorMessage(err)}`);
  }
  const jobs: Record<string, unknown>[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const at = `--file ${path} line ${i + 1}`;
    let job: unknown;
    try {
      job = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${at}: not JSON: ${errorMessage(err)}`);
    }
    if (!job || typeof job !== 'object' || Array.isArray(job))
      throw new UsageError(`${at}: must be a JSON object {type, params, ...options}`);
    jobs.push(job as Record<string, unknown>);
    lines.push(i + 1);
  });
  if (jobs.length === 0) throw new UsageError(`--file ${path}: holds no job (one JSON object a line)`);
  if (jobs.length > MAX_BULK_JOBS)
    throw new UsageError(`--file ${path}: holds ${jobs.length} jobs, at most ${MAX_BULK_JOBS} a submit`);
  return { jobs, lines };
}

/** POST /jobs/bulk with the file's jobs (each given the defaults of the job flags); a refused job names its line */
export async function submitFile(
  api: ApiClient,
  path: string,
  defaults: Record<string, unknown>,
  key: string | undefined,
): Promise<Reply<'bulkSubmitted'>> {
  const { jobs, lines } = readJobsFile(path);
  try {
    return await api.post<Reply<'bulkSubmitted'>>(
      '/jobs/bulk',
      { jobs: jobs.map((j) => ({ ...defaults, ...j })) },
      key === undefined ? {} : { 'idempotency-key': key },
    );
  } catch (err) {
    const field = err instanceof WizardError ? err.details[0]?.field : undefined;
    const m = field === undefined ? null : /^jobs\.(\d+)(?:\.(.+))?$/.exec(field);
    if (!m || lines[Number(m[1])] === undefined) throw err;
    const message = (err as WizardError).message.replace(/^jobs\.\d+: /, '');
    throw new UsageError(`--file ${path} line ${lines[Number(m[1])]}: ${m[2] ? `${m[2]}: ` : ''}${message}`);
  }
}

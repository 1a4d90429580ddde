/** What both adapters do alike before a job reaches them: ids, defaults, the flow's links. */
import { randomUUID } from 'node:crypto';
import { ConflictError, UnknownBotError } from '../core/errors';
import { maxAttemptsFor } from '../core/handlers';
import { DEFAULT_QUEUE, NewJob } from '../core/job';
import type { FlowSpec } from './types';

/** a new job's fields as the store writes them; enqueueJobs.lua takes them in this order */
export const JOB_ROW_FIELDS = ['id', 'type', 'queue', 'params', 'initiated_by', 'max_attempts', 'parent_id', 'chunk_index', 'total'] as const;

export interface JobRow {
  id: string;
  type: string;
  queue: string;
  params: string;
  initiated_by: string;
  max_attempts: number;
  parent_id: string;
  chunk_index: string;
  total: string;
}

export function jobRow(job: NewJob, link: { parentId?: string; index?: number; total?: number; queued?: boolean } = {}): JobRow {
  return {
    id: job.id ?? randomUUID(),
    type: job.type,
    queue: link.queued === false ? '' : job.queue ?? DEFAULT_QUEUE,
    params: JSON.stringify(job.params ?? {}),
    initiated_by: job.initiatedBy ?? '',
    max_attempts: job.maxAttempts ?? maxAttemptsFor(job.type),
    parent_id: link.parentId ?? '',
    chunk_index: link.index === undefined ? '' : String(link.index),
    total: link.total === undefined ? '' : String(link.total),
  };
}

/** a parent (not queued, total = number of children) and its queued children, linked */
export function flowRows(flow: FlowSpec): JobRow[] {
  const parent = jobRow(flow.parent, { queued: false, total: flow.children.length });
  return [parent, ...flow.children.map((c, index) => jobRow(c, { parentId: parent.id, index }))];
}

/** a unique claim-token base for one claim call: "<consumer>:<random>" */
export function tokenBase(consumer: string): string {
  return `${consumer}:${randomUUID().slice(0, 13)}`;
}

/** the record a new job starts as: the same fields enqueueJobs.lua writes */
export function newJobFields(j: JobRow, now: number): Record<string, string> {
  const t = String(now);
  return {
    id: j.id, type: j.type, queue: j.queue, state: 'PENDING', params: j.params,
    attempts: '0', max_attempts: String(j.max_attempts), initiated_by: j.initiated_by,
    handled_by: '', checked_by: '', parent_id: j.parent_id, chunk_index: j.chunk_index,
    completed: j.total === '' ? '' : '0', total: j.total, token: '', lease_until: '',
    result: '', error: '', created_at: t, updated_at: t,
    started_at: '', finished_at: '', run_at: '',
  };
}

/** the errors of a bot's transitions, worded alike by both adapters */
export const botErrors = {
  unknown: (botId: string) => new UnknownBotError(`unknown bot ${botId}: register again`),
  busy: (botId: string, jobId: string) => new ConflictError(`bot ${botId} already holds job ${jobId}: finish it first`),
  notHolder: (botId: string, jobId: string) => new ConflictError(`job ${jobId} is not held by bot ${botId}`),
};

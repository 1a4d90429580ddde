/**
 * Bots: agents that speak only HTTP to the API, register, heartbeat and claim one job
 * at a time. A bot's token is shown to it once, at registration; the store keeps only its sha256
 * (and the claim token of the job it holds, which never leaves the server).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const BOT_STATUSES = ['up', 'down'] as const;
export type BotStatus = (typeof BOT_STATUSES)[number];

export interface Bot {
  id: string;
  name: string;
  status: BotStatus;
  registeredAt: number;
  lastHeartbeat: number;
  /** when it was marked down (no heartbeat for botDownAfterMs), or null while up */
  downAt: number | null;
  /** the job it holds, or null */
  currentJob: string | null;
  jobsDone: number;
  jobsFailed: number;
}

/** a new bot's id and its bearer token (shown once) */
export function newBotCredentials(): { id: string; token: string } {
  return { id: `bot-${randomUUID()}`, token: randomBytes(32).toString('base64url') };
}

/** what the store keeps of a token: its sha256, hex */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

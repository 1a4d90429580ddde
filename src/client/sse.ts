/**
 * A minimal Server-Sent Events reader over fetch (Node 20): yields each event as it arrives.
 * What a restart of the server looks like (refused, a 5xx from a gateway, a stream broken off)
 * is an UnreachableError, so a reader that reconnects tells it from a refusal (4xx).
 */
import { NotFoundError, UnreachableError, WizardError, errorMessage } from '../core/errors';
import { unreachableError } from './http';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export async function* readSse(
  url: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
  fetchOptions: { dispatcher?: unknown } = {},
): AsyncGenerator<SseEvent> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal,
      ...fetchOptions,
    } as RequestInit);
  } catch (err) {
    throw unreachableError(new URL(url).origin, err);
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    const message = body?.error?.message ?? `HTTP ${res.status} from ${url}`;
    if (res.status === 404) throw new NotFoundError(message);
    if (res.status >= 500) throw new UnreachableError(message);
    throw new WizardError('internal', message);
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of brokenOffAsUnreachable(res.body as unknown as AsyncIterable<Uint8Array>, url, signal)) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const ev: SseEvent = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') ev.event = value;
        else if (field === 'data') ev.data += (ev.data ? '\n' : '') + value;
        else if (field === 'id') ev.id = value;
      }
      if (ev.data) yield ev;
    }
  }
}

/** the body's chunks; the server going away mid-stream ("terminated") is an UnreachableError */
async function* brokenOffAsUnreachable(
  body: AsyncIterable<Uint8Array>,
  url: string,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new UnreachableError(`the API at ${new URL(url).origin} broke off the event stream: ${errorMessage(err)}`);
  }
}

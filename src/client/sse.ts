/** A minimal Server-Sent Events reader over fetch (Node 20): yields each event as it arrives. */
import { NotFoundError, UnreachableError, WizardError, errorMessage } from '../core/errors';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export async function* readSse(url: string, headers: Record<string, string> = {}, signal?: AbortSignal, fetchOptions: { dispatcher?: unknown } = {}): AsyncGenerator<SseEvent> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal, ...fetchOptions } as RequestInit);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new UnreachableError(`cannot reach the API at ${new URL(url).origin}: ${cause?.code ?? errorMessage(err)}`);
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    const message = body?.error?.message ?? `HTTP ${res.status} from ${url}`;
    if (res.status === 404) throw new NotFoundError(message);
    if (res.status === 503) throw new UnreachableError(message);
    throw new WizardError('internal', message);
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
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

/** The HTTP client of the API: typed errors out (unreachable → exit 3, 4xx → its code). */
import { UnreachableError, WizardError, ErrorCode, errorMessage } from '../core/errors';

export interface ApiErrorBody {
  error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    private readonly timeoutMs = 30_000,
  ) {}

  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(`cannot reach the API at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? errorMessage(err)}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.ok) return json as T;
    const e = (json as ApiErrorBody | null)?.error;
    const message = e?.message ?? `HTTP ${res.status} from ${url.pathname}`;
    if (res.status === 503) throw new UnreachableError(`the API at ${this.baseUrl} cannot serve: ${message}`);
    throw new WizardError((e?.code as ErrorCode) ?? 'internal', message, e?.details ?? []);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

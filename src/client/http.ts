/** The HTTP client of the API: typed errors out (unreachable → exit 3, 4xx → its code). */
import tls from 'node:tls';
import { UnreachableError, WizardError, ErrorCode, errorMessage, StoreCondition } from '../core/errors';

/** where client commands and bots find the API when neither --api nor WIZARD_API_URL says */
export const DEFAULT_API_URL = 'http://127.0.0.1:8000';

export interface ApiErrorBody {
  error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** TLS errors of a certificate no trusted CA signed (a self-signed or private CA's): --ca mends them */
const UNTRUSTED_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * the API speaks to HTTP clients ("send Authorization: Bearer <token>"); the CLI user sends a
 * token with --token or WIZARD_TOKEN
 */
export function cliWording(status: number, message: string): string {
  if (status !== 401 && status !== 403) return message;
  const said = message.replace(/:?\s*send Authorization: Bearer .*$/i, '');
  if (said !== message) return `${said}: pass --token or set WIZARD_TOKEN`;
  return status === 401 ? `${message} (the token of --token or WIZARD_TOKEN)` : message;
}

/**
 * fetch's options for an HTTPS API whose certificate a CA of its own signed (--ca, WIZARD_CA):
 * that CA is trusted besides the system's, as NODE_EXTRA_CA_CERTS would make it
 */
export function trustingCa(ca: string | undefined): { dispatcher?: unknown } {
  if (!ca) return {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for --ca: the CLI starts fast
  const { Agent } = require('undici') as typeof import('undici');
  return { dispatcher: new Agent({ connect: { ca: [...tls.rootCertificates, ca] } }) };
}

/** a request that got no answer (refused, reset, timed out): the UnreachableError naming the API */
export function unreachableError(apiUrl: string, err: unknown): UnreachableError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const hint =
    cause?.code && UNTRUSTED_CERT.has(cause.code)
      ? ` (the API's certificate is not signed by a CA this machine trusts: pass --ca <file> or set WIZARD_CA to the CA that signed it)`
      : '';
  return new UnreachableError(
    `cannot reach the API at ${apiUrl}: ${cause?.code ?? cause?.message ?? errorMessage(err)}${hint}`,
  );
}

/** the store condition a 503 names (its detail for the field "store"; API nodes before it said none) */
function storeReason(e: NonNullable<ApiErrorBody['error']>): StoreCondition {
  return e.details?.find((d) => d.field === 'store')?.message === 'out of memory' ? 'out of memory' : 'unavailable';
}

export class ApiClient {
  /** extra fetch options: the dispatcher that trusts --ca */
  readonly fetchOptions: { dispatcher?: unknown };

  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    private readonly timeoutMs = 30_000,
    /** PEM of a CA to trust (an API with a self-signed or private certificate) */
    ca?: string,
  ) {
    this.fetchOptions = trustingCa(ca);
  }

  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** send a request; an unreachable API is an UnreachableError naming the URL */
  private async send(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.timeoutMs,
    extra: Record<string, string> = {},
  ): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(), ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        ...this.fetchOptions,
      } as RequestInit);
    } catch (err) {
      throw unreachableError(this.baseUrl, err);
    }
  }

  /** the typed error of a non-2xx answer */
  private errorOf(res: Response, json: unknown): WizardError {
    const e = (json as ApiErrorBody | null)?.error;
    const message = cliWording(
      res.status,
      e?.message ?? `HTTP ${res.status} from ${new URL(res.url || this.baseUrl).pathname}`,
    );
    if (res.status === 503)
      return new UnreachableError(
        `the API at ${this.baseUrl} cannot serve: ${message}`,
        e?.code === 'store_unavailable' ? storeReason(e) : null,
      );
    return new WizardError((e?.code as ErrorCode) ?? 'internal', message, e?.details ?? []);
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    return (await this.exchange<T>(method, path, body, headers)).body;
  }

  /** request(), with the answer's headers */
  async exchange<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ body: T; headers: Headers }> {
    const res = await this.send(method, path, body, this.timeoutMs, headers);
    const json = parseJson(await res.text());
    if (res.ok) return { body: json as T, headers: res.headers };
    throw this.errorOf(res, json);
  }

  /** a GET whose body is streamed (NDJSON exports); errors as request() */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send('GET', path, undefined, 3_600_000);
    if (res.ok && res.body) return res.body;
    throw this.errorOf(res, parseJson(await res.text()));
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<T> {
    return this.request<T>('POST', path, body, headers);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

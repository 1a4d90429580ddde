/**
 * A JSON client for load tests: node:http with a keep-alive agent. fetch (undici) costs the
 * test process about three times the CPU per request, which on a shared 2-core machine is
 * time taken from the servers under test.
 *
 * The keep-alive race: a server closes a connection that sat idle for its keepAliveTimeout just
 * as the agent lends it to a new request, which then fails with ECONNRESET. The server closes only
 * idle connections, so that request was never read: it is sent again once, on a fresh
 * connection (what Node's http docs advise, keyed on req.reusedSocket). Any other failure is
 * the caller's: a POST is never repeated blindly.
 */
import http from 'node:http';

export interface JsonReply<T> {
  status: number;
  body: T;
}

export function jsonAgent(maxSockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });

  function send<T>(
    method: string,
    url: string,
    headers: http.OutgoingHttpHeaders,
    payload: string | undefined,
    mayResend: boolean,
  ): Promise<JsonReply<T>> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
          } catch {
            reject(new Error(`${method} ${url}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (mayResend && req.reusedSocket && err.code === 'ECONNRESET')
          resolve(send<T>(method, url, headers, payload, false));
        else reject(err);
      });
      req.end(payload);
    });
  }

  return {
    request<T = unknown>(method: string, url: string, body?: unknown): Promise<JsonReply<T>> {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: http.OutgoingHttpHeaders =
        payload === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
      return send<T>(method, url, headers, payload, true);
    },
    close: () => agent.destroy(),
  };
}

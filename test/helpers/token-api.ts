/**
 * An API on a store of each adapter, its callers known by a token file, for the tests that call
 * it over real HTTP as those callers: `call` sends a request as a token (the given default unless
 * named) and keeps its status; once the file's tests are done, none of them may have been a 5xx.
 */
import { parseTokenFile } from '../../src/core/tokens';
import { startApi, RunningApi } from '../../src/roles/api';
import { tokenTable } from '../../src/roles/api/access-gate';
import { OPEN_SECURITY } from '../../src/roles/api/security';
import type { Store } from '../../src/store/types';
import { silentLogger } from './log';
import { http } from './procs';
import { makeStore, type AdapterName } from './stores';

export type ApiBody = Record<string, unknown> & { error?: { message: string; details: { field: string }[] } };

/** the security of an API whose callers are the token file's (TOKENS: one `name role token` a line) */
export const tokensSecurity = (tokens: string) => ({ ...OPEN_SECURITY, tokens: tokenTable(parseTokenFile(tokens)) });

export function apiWithTokens(adapter: AdapterName, name: string, tokens: string, defaultToken: string) {
  let store: Store;
  let api: RunningApi;
  const statuses: number[] = [];
  beforeAll(async () => {
    store = await makeStore(adapter, name);
    api = await startApi(store, {
      nodeId: `api-${name}`,
      port: 0,
      log: silentLogger,
      security: tokensSecurity(tokens),
    });
  });
  afterAll(async () => {
    await api.close(true);
    await store.close();
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
  return {
    get store(): Store {
      return store;
    },
    get url(): string {
      return api.url;
    },
    async call(method: string, path: string, body?: unknown, token = defaultToken) {
      const res = await http<ApiBody>(method, `${api.url}${path}`, body, { authorization: `Bearer ${token}` });
      statuses.push(res.status);
      return res;
    },
  };
}

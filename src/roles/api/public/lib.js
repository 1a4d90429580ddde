/*
 * The dashboard's plumbing, with no Alpine in it: requests to the API and what their errors
 * mean to a person, polling, the hash route, number and time formatting, the form hints.
 * app.js, charts.js and every page's script (pages/*.js) take these from window.wizardLib; the
 * job states come from states.js (window.wizardStates), loaded first.
 */
'use strict';

(() => {
  /** where the page keeps the token entered at the top (any API token, the admin token included) */
  const API_TOKEN_KEY = 'wizard.apiToken';
  /** the key older pages kept it under: read once, moved to API_TOKEN_KEY, so a tab stays logged in */
  const OLD_TOKEN_KEY = 'wizard.adminToken';
  /** the job states and their sets: states.js, generated from src/core/states.ts */
  const { FINAL, FAILED, JOB_STATES, RUNNABLE } = window.wizardStates;
  const PAGES = [
    'overview',
    'math',
    'primes',
    'jobs',
    'flows',
    'bots',
    'datalake',
    'abacus',
    'workers',
    'queues',
    'schedules',
    'dlq',
  ];
  const PRIMES = { minN: 10000, maxN: 1e12, maxChunks: 128 };

  /** the token the person entered at the top (an API token, or the admin token), or '' */
  const storedToken = () => {
    const old = sessionStorage.getItem(OLD_TOKEN_KEY);
    if (old !== null) {
      if (old && sessionStorage.getItem(API_TOKEN_KEY) === null) sessionStorage.setItem(API_TOKEN_KEY, old);
      sessionStorage.removeItem(OLD_TOKEN_KEY);
    }
    return sessionStorage.getItem(API_TOKEN_KEY) || '';
  };

  /**
   * One request to the API. Resolves (never rejects) with {ok, status, data, error}; error is
   * {kind, message, field} where kind says what the page should show:
   * network (the API cannot be reached), unavailable (this server has no such route: a feature
   * of a later version), store (503: Redis is down), auth (401/403), invalid (400: the server's
   * own message, verbatim), not_found, or other.
   */
  async function request(method, path, { body } = {}) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    // every request carries the token when there is one: with API tokens on, reads need one too
    if (storedToken()) headers.authorization = `Bearer ${storedToken()}`;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      const error = {
        kind: 'network',
        message: 'Cannot reach the API: is wizard api running?',
        field: null,
        banner: true,
      };
      reportCondition(error);
      return { ok: false, status: 0, data: null, error };
    }
    let data = null;
    if (res.status !== 204) {
      try {
        data = await res.json();
      } catch {
        data = null;
      }
    }
    if (res.ok) {
      reportCondition(null);
      return { ok: true, status: res.status, data, error: null };
    }
    const error = describeError(res.status, data);
    // cluster-wide: the store is away, or this API wants a token for every read (its access gate, not the admin one)
    if (
      res.status === 503 ||
      (res.status === 401 && method === 'GET' && /realm="wizard"/.test(res.headers.get('www-authenticate') || ''))
    ) {
      error.banner = true;
      reportCondition(error);
    }
    return { ok: false, status: res.status, data, error };
  }

  /**
   * The one banner: a condition of the whole cluster (the store away, the API unreachable, a
   * token needed for every read) is announced once, as a `wizard:condition` event the page's
   * root shows, instead of in every card; any answer that succeeds clears it.
   */
  let condition = null;
  function reportCondition(error) {
    const next = error ? { kind: error.kind, message: error.message } : null;
    if (JSON.stringify(next) === JSON.stringify(condition)) return;
    condition = next;
    window.dispatchEvent(new CustomEvent('wizard:condition', { detail: next }));
  }

  function describeError(status, data) {
    const e = (data && (data.error && typeof data.error === 'object' ? data.error : data)) || {};
    const message = typeof e.message === 'string' ? e.message : `HTTP ${status}`;
    const field = Array.isArray(e.details) && e.details[0] && e.details[0].field ? e.details[0].field : null;
    if (status === 404 && /^no route for /.test(message)) {
      return { kind: 'unavailable', message: 'Not available on this server yet (it has no such endpoint).', field };
    }
    if (status === 503) return { kind: 'store', message: `Redis is unavailable: ${message}`, field };
    // 401: no token or a wrong one, which the page can fix; 403: the node has none configured
    if (status === 401) return { kind: 'auth', message: `${message}. Enter it under "Token" at the top.`, field };
    if (status === 403) return { kind: 'auth', message, field };
    if (status === 400) return { kind: 'invalid', message, field };
    if (status === 404) return { kind: 'not_found', message, field };
    return { kind: 'other', message, field };
  }

  /**
   * Follows a server-sent event stream with fetch rather than an EventSource, which cannot send
   * the token. Calls onEvent(name, data) for each event. Returns {close, done}: done resolves
   * when the stream ends or breaks (never rejects), with the HTTP status when it did not open.
   */
  function openStream(path, onEvent) {
    const ctrl = new AbortController();
    const headers = { accept: 'text/event-stream' };
    if (storedToken()) headers.authorization = `Bearer ${storedToken()}`;
    const done = (async () => {
      let res;
      try {
        res = await fetch(path, { headers, signal: ctrl.signal, cache: 'no-store' });
      } catch {
        return { opened: false, status: 0 };
      }
      if (!res.ok || !res.body) return { opened: false, status: res.status };
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done: ended } = await reader.read();
          if (ended) break;
          buffer += value.replace(/\r/g, '');
          for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) onEvent(name, data.join('\n'));
          }
        }
      } catch {
        /* broken off (or closed): done says so */
      }
      return { opened: true, status: res.status };
    })();
    return { close: () => ctrl.abort(), done };
  }

  /** runs fn now and then every ms while the tab is visible, whatever one run throws; returns stop() */
  function every(ms, fn) {
    let stopped = false;
    let timer = null;
    const tick = async () => {
      if (stopped) return;
      try {
        if (!document.hidden) await fn();
      } catch (err) {
        console.error('dashboard:', err);
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** a component that calls its load() every ms while it is on the page (Alpine's init and destroy) */
  function polling(ms, component) {
    let stop = null;
    const ownInit = component.init;
    component.init = function () {
      stop = every(ms, () => this.load());
      ownInit?.call(this);
    };
    component.destroy = () => stop?.();
    return component;
  }

  /**
   * a page's component that follows one record (#/<page>/<id>): start(), on init and on each new
   * id, calls its reset() and then its step() every ms until step() answers false (the record is
   * final, or gone); it stops when the component leaves the page
   */
  function following(ms, component) {
    let stop = null;
    component.init = function () {
      this.start();
      this.$watch('route.id', () => this.start());
    };
    component.destroy = () => stop?.();
    component.start = function () {
      stop?.();
      this.reset();
      stop = every(ms, async () => {
        if (!(await this.step())) stop();
      });
    };
    return component;
  }

  /** a loadable value: {data, error, loading}; load(promiseOfReply) fills it */
  const slot = () => ({ data: null, error: null, loading: true });
  function fill(target, reply) {
    target.loading = false;
    if (reply.ok) {
      target.data = reply.data;
      target.error = null;
    } else {
      target.error = reply.error;
      // a route this server lacks stays unavailable: keep no stale data beside the message
      if (reply.error.kind === 'unavailable') target.data = null;
    }
    return reply;
  }

  function parseRoute(hash) {
    const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
    const [page, ...rest] = path.split('/').filter(Boolean).map(decodeURIComponent);
    return {
      page: page === undefined ? 'overview' : PAGES.includes(page) ? page : 'notfound',
      id: rest.join('/') || null,
      query: Object.fromEntries(new URLSearchParams(query)),
      hash: hash || '#/',
    };
  }

  const numberFormat = new Intl.NumberFormat();
  /** a count with grouping; sums beyond 2^53 arrive as decimal strings and stay exact */
  function formatNumber(v) {
    if (v === null || v === undefined || v === '') return '—';
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v).toLocaleString();
    return typeof v === 'number' ? numberFormat.format(v) : String(v);
  }

  /** a span of seconds as a person reads it: "42 s", "4 min 10 s", "3 h 5 min", "2 d" */
  function formatSpan(s) {
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d`;
  }

  /** a time that has passed, from now: "12 s ago" (a clock a moment ahead reads "0 s ago") */
  function formatAgo(iso, now) {
    if (!iso) return 'never';
    return `${formatSpan(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago`;
  }

  /** a time to come, from now: "in 4 min 10 s" (one just passed reads "in 0 s") */
  function formatIn(iso, now) {
    if (!iso) return '—';
    return `in ${formatSpan(Math.max(0, Math.round((Date.parse(iso) - now) / 1000)))}`;
  }

  /** a number when the text is one, else the text as it is (for the server to name the problem) */
  function toNumber(text) {
    const t = String(text).trim();
    return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
  }

  /** the client's hint for an integer field, in the server's words; '' when it looks right */
  function integerHint(field, text, min, max, minLabel, maxLabel) {
    const v = toNumber(text);
    if (typeof v !== 'number' || !Number.isInteger(v))
      return `${field} must be an integer from ${minLabel} to ${maxLabel}`;
    if (v < min) return `${field} must be an integer >= ${minLabel}`;
    if (v > max) return `${field} must be an integer <= ${maxLabel}`;
    return '';
  }

  /** a job's progress: a handler's fraction (total 1) as a percentage, else completed/total */
  function progressText(p) {
    if (!p) return '—';
    return p.total === 1
      ? `${Math.round(p.completed * 100)}%`
      : `${formatNumber(p.completed)}/${formatNumber(p.total)}`;
  }

  window.wizardLib = Object.freeze({
    API_TOKEN_KEY,
    FINAL,
    FAILED,
    JOB_STATES,
    RUNNABLE,
    PRIMES,
    storedToken,
    openStream,
    request,
    every,
    polling,
    following,
    slot,
    fill,
    parseRoute,
    formatNumber,
    progressText,
    formatAgo,
    formatIn,
    toNumber,
    integerHint,
  });
})();

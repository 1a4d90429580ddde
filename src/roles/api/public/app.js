/*
 * The wizard dashboard's shell: one page, hash routes (#/primes, #/jobs/<id>, #/bots/<id>, ...),
 * the root component (the route, the token, the banner, the formatting every page uses), and the
 * loader the pages hand themselves to. Each page is a script, pages/<page>.js, that calls
 * wizardConsole.add('pages/<page>.html', { <component>: () => ({...}) }): its markup, a
 * <template x-if> per route it shows, is fetched from beside it and put into <main>, and its
 * components are registered with Alpine. It runs on Alpine's CSP build: templates hold
 * expressions only (no eval), and all logic lives in the scripts. Every request goes to the API
 * that served the page, by a relative path, so the page works offline and behind a path prefix.
 */
'use strict';

(() => {
  const { API_TOKEN_KEY, storedToken, request, parseRoute, formatNumber, formatAgo, formatIn } = window.wizardLib;

  /** what the pages added: each one's markup file (its text on the way) and its components by name */
  const parts = [];

  /** a markup file's text; a file that cannot be read answers null, and why in `problem` */
  async function fetchMarkup(file) {
    try {
      const res = await fetch(file, { headers: { accept: 'text/html' } });
      return res.ok ? { file, text: await res.text() } : { file, text: null, problem: `HTTP ${res.status}` };
    } catch (err) {
      return { file, text: null, problem: err instanceof Error ? err.message : String(err) };
    }
  }

  window.wizardConsole = Object.freeze({
    /**
     * A page (or markup pages share) joins the dashboard: its markup file, fetched at once and put
     * into <main> once every page's is here, and its Alpine components, registered on alpine:init.
     * Call it from a script loaded (defer) before Alpine.
     */
    add(markup, components) {
      parts.push({ markup: fetchMarkup(markup), components });
    },
  });

  /**
   * data-include="<template id>": every such element (in the markup or inside one of its
   * templates) gets a copy of that template's content, so one piece of markup serves several
   * pages (the history charts of the overview and of the abacus)
   */
  function includeTemplates(root, sources) {
    for (const el of root.querySelectorAll('[data-include]')) {
      const source = sources.getElementById(el.dataset.include);
      if (source && el.childElementCount === 0) el.append(source.content.cloneNode(true));
    }
    for (const t of root.querySelectorAll('template')) includeTemplates(t.content, sources);
  }

  /**
   * Every page's markup into <main>, before the unknown route's template, in one go: Alpine
   * (started meanwhile) brings in what is added. A file that did not load is said at the top of
   * <main>, on every page; the others work.
   */
  async function mountPages() {
    const loaded = await Promise.all(parts.map((p) => p.markup));
    const t = document.createElement('template');
    t.innerHTML = loaded.map((m) => m.text || '').join('\n');
    includeTemplates(t.content, t.content);
    const main = document.getElementById('main');
    main.insertBefore(t.content, document.getElementById('pages-end'));
    for (const m of loaded.filter((x) => x.text === null)) {
      const p = document.createElement('p');
      p.className = 'alert markup-missing';
      p.setAttribute('role', 'alert');
      p.textContent = `Part of the dashboard did not load (${m.file}: ${m.problem}). Reload the page to try again.`;
      main.prepend(p);
    }
  }

  // the page scripts (defer) have all run by now: their markup is on the way
  document.addEventListener('DOMContentLoaded', mountPages);

  document.addEventListener('alpine:init', () => {
    const Alpine = window.Alpine;
    Alpine.data('dashboard', dashboard);
    for (const { components } of parts) for (const [name, make] of Object.entries(components)) Alpine.data(name, make);
  });

  /** the root: the route, the token, formatting every section uses */
  const dashboard = () => ({
    route: parseRoute(location.hash),
    now: Date.now(),
    tokenDraft: '',
    tokenSet: Boolean(storedToken()),
    tokenNote: '',
    /** GET /whoami's `admin`: 'configured', 'not configured', or null until known */
    adminState: null,
    /** the one banner: a condition of the whole cluster (lib.js's reportCondition), or null */
    condition: null,
    findId: '',

    init() {
      window.addEventListener('hashchange', () => {
        const before = this.route.page;
        this.route = parseRoute(location.hash);
        // move focus to the new page's heading, so keyboard and screen-reader users land there
        if (before !== this.route.page) this.$nextTick(() => document.querySelector('main h2')?.focus());
      });
      setInterval(() => (this.now = Date.now()), 1000);
      this.learnAdmin();
      window.addEventListener('wizard:condition', (e) => (this.condition = e.detail));
    },

    /** whether this node has an admin token at all: without one its admin actions are shown as unavailable */
    async learnAdmin() {
      const r = await request('GET', 'whoami');
      this.adminState = r.ok && r.data && typeof r.data.admin === 'string' ? r.data.admin : null;
    },
    /** true when the node said it has no admin token: admin buttons are disabled and say why */
    get adminOff() {
      return this.adminState === 'not configured';
    },

    get bannerTitle() {
      const c = this.condition;
      if (!c) return '';
      return (
        { store: 'The store is unavailable.', network: 'The API cannot be reached.', auth: 'This API needs a token.' }[
          c.kind
        ] || 'Error:'
      );
    },
    /** the server's words, without the prefix the title already says */
    get bannerText() {
      const c = this.condition;
      return c ? c.message.replace(/^Redis is unavailable: /, '') : '';
    },
    /** find a job by id, from any page */
    findJob() {
      const id = this.findId.trim();
      if (!id) return;
      this.findId = '';
      location.hash = this.jobHref(id);
    },

    current(page) {
      return this.route.page === page ? 'page' : null;
    },
    is(page) {
      return this.route.page === page;
    },
    isDetail(page) {
      return this.route.page === page && this.route.id !== null;
    },
    isList(page) {
      return this.route.page === page && this.route.id === null;
    },

    saveToken() {
      const t = this.tokenDraft.trim();
      if (t) sessionStorage.setItem(API_TOKEN_KEY, t);
      else sessionStorage.removeItem(API_TOKEN_KEY);
      this.tokenSet = Boolean(t);
      this.tokenDraft = '';
      this.tokenNote = t ? 'Token saved for this tab.' : 'Token cleared.';
      if (t) this.$refs.tokenBox.open = false;
      this.learnAdmin(); // with API tokens on, /whoami answers only once a token is given
    },
    forgetToken() {
      this.tokenDraft = '';
      this.saveToken();
    },

    num: formatNumber,
    /** a time that has passed, as every page shows one: "12 s ago" (when() gives the date, for a title) */
    ago(iso) {
      return formatAgo(iso, this.now);
    },
    /** a time to come: "in 4 min 10 s" */
    until(iso) {
      return formatIn(iso, this.now);
    },
    when(iso) {
      return iso ? new Date(iso).toLocaleString() : '—';
    },
    ms(v) {
      if (v === null || v === undefined) return '—';
      return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
    },
    percent(rate) {
      return rate === null || rate === undefined ? '—' : `${Math.round(rate * 1000) / 10}%`;
    },
    json(v) {
      return v === null || v === undefined ? '—' : JSON.stringify(v);
    },
    short(id) {
      return id ? String(id).slice(0, 8) : '—';
    },
    jobHref(id) {
      return `#/jobs/${encodeURIComponent(id)}`;
    },
    flowHref(id) {
      return `#/flows/${encodeURIComponent(id)}`;
    },
    botHref(id) {
      return `#/bots/${encodeURIComponent(id)}`;
    },
    /** who handled a job: a node id as it is, a bot by the head of its id (its page has the rest) */
    who(id) {
      if (!id) return '—';
      return /^bot-[0-9a-f-]{36}$/.test(id) ? id.slice(0, 12) : id;
    },
    /** the bot's page for a bot, or null: an <a> without href is plain text */
    whoHref(id) {
      return id && id.startsWith('bot-') ? this.botHref(id) : null;
    },
    stateClass(state) {
      return `state state-${String(state || '').toLowerCase()}`;
    },
    /** text for a slot that is loading or failed, or '' when it has data */
    problem(s) {
      if (s.error) return s.error.banner ? '' : s.error.message;
      if (s.loading) return 'Loading…';
      return '';
    },
    /** the first words of an error box, by what went wrong */
    problemTitle(error) {
      const titles = {
        invalid: 'The server refused the input:',
        store: 'The API is up but its store is not:',
        network: 'Offline:',
        auth: 'Admin only:',
        not_found: 'Not found:',
        unavailable: 'Not available:',
      };
      return error ? titles[error.kind] || 'Error:' : '';
    },
    skipToMain() {
      document.querySelector('main h2')?.focus();
    },
  });
})();

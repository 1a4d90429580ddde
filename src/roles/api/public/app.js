/*
 * The wizard dashboard: one page, hash routes (#/primes, #/jobs/<id>, #/bots/<id>, ...), one
 * Alpine component per section. It runs on Alpine's CSP build: templates hold expressions only
 * (no eval), and all logic lives here and in lib.js. Every request goes to the API that served
 * the page, by a relative path, so the page works offline and behind a path prefix alike.
 *
 * Past 500 lines: it holds every page's component (one per section, each short and standing
 * alone), registered in one alpine:init handler beside the helpers they share; when it grows, split
 * it by page, one script each in index.html (the schedules page is the first: schedules.js).
 */
'use strict';

(() => {
  const { API_TOKEN_KEY, FINAL, JOB_STATES, PRIMES, chart, chunkBars, storedToken, openStream, request, every, polling, slot, fill, parseRoute, formatNumber, formatAgo, toNumber, integerHint } = window.wizardLib;

  /**
   * data-include="<template id>": before Alpine starts, every such element (in the page or inside
   * a page's template) gets a copy of that template's content, so one piece of markup serves
   * several pages (the history charts of the overview and of the abacus)
   */
  function includeTemplates(root) {
    for (const el of root.querySelectorAll('[data-include]')) {
      const source = document.getElementById(el.dataset.include);
      if (source && el.childElementCount === 0) el.append(source.content.cloneNode(true));
    }
    for (const t of root.querySelectorAll('template')) includeTemplates(t.content);
  }

  document.addEventListener('alpine:init', () => {
    includeTemplates(document);
    const Alpine = window.Alpine;

    /** the root: the route, the token, formatting every section uses */
    Alpine.data('dashboard', () => ({
      route: parseRoute(location.hash),
      now: Date.now(),
      tokenDraft: '',
      tokenSet: Boolean(storedToken()),
      tokenNote: '',
      /** GET /whoami's `admin`: 'configured', 'not configured', or null until known */
      adminState: null,
      pages: [
        { id: 'overview', label: 'Overview' },
        { id: 'math', label: 'Math' },
        { id: 'primes', label: 'Primes' },
        { id: 'jobs', label: 'Jobs' },
        { id: 'bots', label: 'Bots' },
        { id: 'datalake', label: 'Datalake' },
        { id: 'abacus', label: 'Abacus' },
        { id: 'workers', label: 'Workers' },
        { id: 'queues', label: 'Queues' },
        { id: 'schedules', label: 'Schedules' },
        { id: 'dlq', label: 'Dead letters' },
      ],
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
        return { store: 'The store is unavailable.', network: 'The API cannot be reached.', auth: 'This API needs a token.' }[c.kind] || 'Error:';
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

      href(page) {
        return page === 'overview' ? '#/' : `#/${page}`;
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
      ago(iso) {
        return formatAgo(iso, this.now);
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
      unavailable(s) {
        return Boolean(s.error && s.error.kind === 'unavailable');
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
      /** a plain object's fields as rows for a <dl> (a prime count's params and result), or null for anything else */
      fieldsOf(v) {
        if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
        return Object.entries(v).map(([k, x]) => ({ k, v: typeof x === 'number' ? formatNumber(x) : typeof x === 'string' ? x : JSON.stringify(x) }));
      },
      /** a job's progress: a handler's fraction (total 1) as a percentage, else completed/total */
      progressText(p) {
        if (!p) return '—';
        return p.total === 1 ? `${Math.round(p.completed * 100)}%` : `${formatNumber(p.completed)}/${formatNumber(p.total)}`;
      },
      /** "Attempts": a prime count is not run itself, its chunks are */
      attemptsText(job) {
        if (job.type === 'primes' && job.attempts === 0) return 'not run itself: its chunks are (below)';
        return `${job.attempts} of ${job.max_attempts}`;
      },
      chunkPaths(chunks) {
        return chunkBars(chunks || []);
      },
      skipToMain() {
        document.querySelector('main h2')?.focus();
      },
    }));

    Alpine.data('overview', () =>
      polling(2000, {
        health: slot(),
        summary: slot(),
        recent: slot(),
        sum: slot(),
        load() {
          return Promise.all([
            request('GET', 'health').then((r) => {
              // /health answers 503 with a body that says what is wrong: show it as data too
              fill(this.health, r);
              if (!r.ok && r.data && r.data.status) this.health.data = r.data;
            }),
            request('GET', 'metrics/summary').then((r) => fill(this.summary, r)),
            request('GET', 'jobs?limit=8').then((r) => fill(this.recent, r)),
            request('GET', 'abacus/sum').then((r) => fill(this.sum, r)),
          ]);
        },
        get redisUp() {
          return Boolean(this.health.data && this.health.data.redis_connected);
        },
        /** the figures at the top: a title, the figure, a note under it (or why it is missing) */
        get cards() {
          const s = this.summary.data;
          const why = this.problem(this.summary);
          const sum = this.sum.data;
          return [
            { title: 'Store', figure: this.health.data ? (this.redisUp ? 'up' : 'down') : this.health.error ? '—' : '…', note: this.storeText },
            { title: 'Queued jobs', figure: s ? formatNumber(this.queued) : '—', note: s ? `bot queue: ${formatNumber(s.queue.waiting)} waiting, ${formatNumber(s.queue.active)} active` : why },
            { title: 'Workers up', figure: formatNumber(this.workersLive), note: 'live worker processes' },
            { title: 'Bots up', figure: s ? formatNumber(s.bots.up) : '—', note: s ? `of ${formatNumber(s.bots.total)} registered` : why },
            { title: 'Throughput', figure: s ? formatNumber(s.throughput_per_minute) : '—', note: s ? `jobs/min · success ${this.percent(s.success_rate)}` : why },
            { title: 'Abacus sum', figure: sum ? formatNumber(sum.sum) : '—', note: sum ? `read on ${sum.node_id}` : this.problem(this.sum) },
          ];
        },
        get storeText() {
          const h = this.health.data;
          if (!h || !h.store) return this.problem(this.health);
          if (h.store.kind === 'memory') return 'in memory: this process only';
          return h.redis_connected ? `Redis at ${h.store.url}` : `Redis at ${h.store.url} is unreachable`;
        },
        get workersLive() {
          return this.health.data && this.health.data.workers ? this.health.data.workers.live : null;
        },
        get queued() {
          const s = this.summary.data;
          return s ? s.jobs.by_state.PENDING + s.jobs.by_state.RETRY : null;
        },
      }),
    );

    Alpine.data('math', () => {
      let stop = null;
      return {
        form: { a: '2', b: '3', op: 'add' },
        task: null,
        status: null,
        sync: null,
        error: null,
        busy: false,
        destroy() {
          stop?.();
        },
        operands() {
          const n = (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
          return { a: n(this.form.a), b: n(this.form.b), op: this.form.op };
        },
        async submit() {
          stop?.();
          this.busy = true;
          this.error = null;
          this.status = null;
          const r = await request('POST', 'task', { body: this.operands() });
          this.busy = false;
          if (!r.ok) {
            this.error = r.error;
            return;
          }
          this.task = r.data;
          stop = every(400, async () => {
            const s = await request('GET', `tasks/${encodeURIComponent(this.task.task_id)}/status`);
            if (s.ok) this.status = s.data;
            else this.error = s.error;
            if (s.ok && FINAL.includes(s.data.status)) stop();
          });
        },
        async computeNow() {
          this.error = null;
          const { a, b, op } = this.operands();
          const r = await request('GET', `add?${new URLSearchParams({ a: String(a), b: String(b), op })}`);
          if (r.ok) this.sync = r.data;
          else this.error = r.error;
        },
        get state() {
          return this.status ? this.status.status : this.task ? this.task.status : null;
        },
      };
    });

    Alpine.data('primes', () => {
      let source = null;
      let fallback = null;
      const close = () => {
        source?.close();
        source = null;
        fallback?.();
        fallback = null;
      };
      return {
        form: { n: '1000000', chunks: '16' },
        touched: { n: false, chunks: false },
        job: null,
        error: null,
        busy: false,
        live: '',
        init() {
          // #/primes/<id> follows that job: a reload, or a link to a running count
          if (this.route.id) this.follow(this.route.id);
          this.$watch('route.id', (id) => {
            if (id && !(this.job && this.job.job_id === id)) this.follow(id);
          });
        },
        destroy() {
          close();
        },
        get nHint() {
          return integerHint('n', this.form.n, PRIMES.minN, PRIMES.maxN, '10000', '10^12');
        },
        get chunksHint() {
          return integerHint('chunks', this.form.chunks, 1, PRIMES.maxChunks, '1', '128');
        },
        invalid(field) {
          if (this.error && this.error.field === field) return 'true';
          const hint = field === 'n' ? this.nHint : this.chunksHint;
          return this.touched[field] && hint ? 'true' : null;
        },
        touch(field) {
          this.touched[field] = true;
        },
        /** the server is the judge: the form is sent even when a hint shows, and its 400 is shown as it is */
        async submit() {
          close();
          this.busy = true;
          this.error = null;
          this.job = null;
          const n = toNumber(this.form.n);
          const chunks = toNumber(this.form.chunks);
          const r = await request('POST', 'api/count-primes', { body: { n, chunks } });
          this.busy = false;
          if (!r.ok) {
            this.error = r.error;
            this.$nextTick(() => this.$refs.problem?.focus());
            return;
          }
          this.job = { job_id: r.data.job_id, state: r.data.status, progress: { completed: 0, total: chunks }, result: null, error: null, params: { n, chunks } };
          history.replaceState(null, '', `#/primes/${encodeURIComponent(r.data.job_id)}`);
          this.route.id = r.data.job_id;
          this.follow(r.data.job_id);
        },
        /** live progress over SSE (with the token, when one is set); when the stream cannot be opened or breaks, one GET says why */
        follow(id) {
          close();
          this.error = null;
          if (!this.job || this.job.job_id !== id) this.job = null;
          const stream = openStream(`api/jobs/${encodeURIComponent(id)}/events`, (name, data) => {
            if (name !== 'state') return;
            this.job = JSON.parse(data);
            this.live = FINAL.includes(this.job.state) ? this.finalText() : '';
            if (FINAL.includes(this.job.state)) close();
          });
          source = stream;
          stream.done.then(async () => {
            if (source !== stream) return; // closed on purpose: the job finished, or another is followed
            close();
            const r = await request('GET', `api/jobs/${encodeURIComponent(id)}`);
            if (r.ok) {
              this.job = r.data;
              // not final yet: the stream broke, so poll until it is
              if (!FINAL.includes(r.data.state)) fallback = every(1000, () => this.poll(id));
            } else this.error = r.error;
          });
        },
        async poll(id) {
          const r = await request('GET', `api/jobs/${encodeURIComponent(id)}`);
          if (r.ok) this.job = r.data;
          if (r.ok && FINAL.includes(r.data.state)) close();
        },
        get pct() {
          const p = this.job && this.job.progress;
          return p && p.total ? Math.floor((p.completed / p.total) * 100) : 0;
        },
        get finished() {
          return Boolean(this.job && FINAL.includes(this.job.state));
        },
        get succeeded() {
          return Boolean(this.job && this.job.state === 'SUCCESS' && this.job.result);
        },
        get failed() {
          return Boolean(this.job && (this.job.state === 'FAILURE' || this.job.state === 'DEAD'));
        },
        finalText() {
          if (this.succeeded) return `Done: ${formatNumber(this.job.result.prime_count)} primes up to ${formatNumber(this.job.params.n)}.`;
          return `The job failed: ${this.job.error || 'no reason given'}`;
        },
      };
    });

    Alpine.data('jobs', () =>
      polling(3000, {
        states: JOB_STATES,
        status: '',
        offset: 0,
        limit: 20,
        list: slot(),
        load() {
          const q = new URLSearchParams({ offset: String(this.offset), limit: String(this.limit) });
          if (this.status) q.set('status', this.status);
          return request('GET', `jobs?${q}`).then((r) => fill(this.list, r));
        },
        filter() {
          this.offset = 0;
          this.load();
        },
        page(delta) {
          this.offset = Math.max(0, this.offset + delta * this.limit);
          this.load();
        },
        get hasPrev() {
          return this.offset > 0;
        },
        get hasNext() {
          return Boolean(this.list.data && this.offset + this.limit < this.list.data.total);
        },
        get range() {
          const d = this.list.data;
          if (!d || d.total === 0) return 'No jobs';
          return `${formatNumber(this.offset + 1)}–${formatNumber(this.offset + d.jobs.length)} of ${formatNumber(d.total)}`;
        },
      }),
    );

    Alpine.data('jobDetail', () => {
      let stop = null;
      return {
        job: slot(),
        chunks: slot(),
        init() {
          this.start();
          this.$watch('route.id', () => this.start());
        },
        destroy() {
          stop?.();
        },
        start() {
          stop?.();
          this.job = slot();
          this.chunks = slot();
          stop = every(1000, async () => {
            const id = encodeURIComponent(this.route.id);
            const r = fill(this.job, await request('GET', `jobs/${id}`));
            if (r.ok && r.data.type === 'primes') fill(this.chunks, await request('GET', `jobs/${id}/chunks`));
            if (!r.ok || FINAL.includes(r.data.state)) stop();
          });
        },
        get isPrimes() {
          return Boolean(this.job.data && this.job.data.type === 'primes');
        },
      };
    });

    Alpine.data('bots', () =>
      polling(2000, {
        list: slot(),
        addName: '',
        populateCount: '5',
        notice: null,
        failure: null,
        confirming: null,
        init() {
          // a message belongs to the page it was given on
          this.$watch('route.id', () => {
            this.notice = null;
            this.failure = null;
            this.confirming = null;
          });
        },
        load() {
          return request('GET', 'bots').then((r) => fill(this.list, r));
        },
        get selected() {
          const d = this.list.data;
          return d ? d.bots.find((b) => b.bot_id === this.route.id) || null : null;
        },
        report(r, text) {
          this.notice = r.ok ? text : null;
          this.failure = r.ok ? null : r.error;
        },
        async addBot() {
          const body = this.addName.trim() ? { name: this.addName.trim() } : {};
          const r = await request('POST', 'bots/register', { body });
          this.report(r, r.ok ? `Registered ${r.data.name === r.data.bot_id ? r.data.bot_id : `${r.data.name} (${r.data.bot_id})`}. Its token, shown only now: ${r.data.token}` : '');
          if (r.ok) this.addName = '';
          this.load();
        },
        async populate() {
          const r = await request('POST', 'jobs/populate', { body: { count: toNumber(this.populateCount) } });
          this.report(r, r.ok ? `Created ${formatNumber(r.data.created)} ${r.data.type} jobs in batch ${r.data.batch}.` : '');
        },
        askDelete(id) {
          this.confirming = id;
        },
        cancelDelete() {
          this.confirming = null;
        },
        async remove(id) {
          this.confirming = null;
          const r = await request('DELETE', `bots/${encodeURIComponent(id)}`, );
          this.report(r, `Deleted bot ${id}.`);
          if (r.ok && this.route.id === id) location.hash = '#/bots';
          this.load();
        },
      }),
    );

    Alpine.data('datalake', () =>
      polling(5000, {
        stats: slot(),
        load() {
          return request('GET', 'datalake/stats').then((r) => fill(this.stats, r));
        },
        get cards() {
          const d = this.stats.data;
          if (!d) return [];
          return [
            { title: 'Records', figure: formatNumber(d.total), note: `recording: ${d.records}` },
            { title: 'Success rate', figure: this.percent(d.success_rate), note: `${formatNumber(d.failure)} failed` },
            { title: 'Mean duration', figure: this.ms(d.mean_duration_ms), note: `kept ${d.retention_days} ${d.retention_days === 1 ? 'day' : 'days'}` },
          ];
        },
        exportHref(date) {
          return `datalake/export/${encodeURIComponent(date)}`;
        },
        exportName(date) {
          return `datalake-${date}.ndjson`;
        },
      }),
    );

    Alpine.data('abacus', () =>
      polling(1000, {
        sum: slot(),
        number: '',
        adds: [],
        failure: null,
        notice: null,
        confirming: false,
        load() {
          return request('GET', 'abacus/sum').then((r) => fill(this.sum, r));
        },
        get hint() {
          if (this.number.trim() === '') return '';
          const v = Number(this.number);
          return Number.isSafeInteger(v) ? '' : 'number must be an integer within ±9007199254740991';
        },
        async add() {
          const r = await request('POST', 'abacus/number', { body: { number: toNumber(this.number) } });
          this.failure = r.ok ? null : r.error;
          this.notice = null;
          if (!r.ok) return;
          this.adds.unshift({ key: `${r.data.timestamp}-${this.adds.length}`, ...r.data });
          this.adds.splice(8);
          this.sum.data = { sum: r.data.new_sum, timestamp: r.data.timestamp, node_id: r.data.node_id };
          this.number = '';
        },
        async reset() {
          this.confirming = false;
          const r = await request('DELETE', 'abacus/sum', );
          this.failure = r.ok ? null : r.error;
          this.notice = r.ok ? r.data.message : null;
          this.load();
        },
      }),
    );
    // ---- the operations console: history charts, workers, queues, the dead-letter queue ----

    /** the charts of the cluster's history (GET /metrics/history), polled every 5 s; `specs` says which */
    const historyCharts = (heading, specs) =>
      polling(5000, {
        heading,
        windows: ['5m', '15m', '1h'],
        window: '1h',
        history: slot(),
        load() {
          const asked = this.window;
          // an answer for a window no longer picked (a click while it was on its way) is dropped
          return request('GET', `metrics/history?window=${asked}`).then((r) => asked === this.window && fill(this.history, r));
        },
        pick(w) {
          this.window = w;
          this.load();
        },
        pressed(w) {
          return this.window === w ? 'true' : 'false';
        },
        get charts() {
          const h = this.history.data;
          const points = h ? h.points : [];
          const opts = { windowMs: (h ? h.window_sec : 3600) * 1000, bucketMs: (h ? h.bucket_sec : 10) * 1000, now: h ? Date.parse(h.generated_at) : Date.now() };
          const span = h ? `the last ${h.window}` : '';
          return specs.map((spec) => {
            const c = chart(points, spec.series.map((x) => x.field), { kind: spec.kind, ...opts });
            const last = (f) => {
              for (let i = points.length - 1; i >= 0; i--) if (points[i][f] !== null && points[i][f] !== undefined) return points[i][f];
              return null;
            };
            const total = (f) => points.reduce((n, p) => n + (Number(p[f]) || 0), 0);
            const legend = spec.series.map((x, i) => ({
              key: x.field,
              cls: `s${i}`,
              text: `${x.label}: ${spec.kind === 'bars' ? `${formatNumber(total(x.field))} in ${span}` : `${x.unit === 'ms' ? this.ms(last(x.field)) : formatNumber(last(x.field))} now`}`,
            }));
            return {
              id: spec.id,
              kind: `chart-svg kind-${spec.kind}`,
              title: spec.kind === 'bars' ? `${spec.title} per ${c.stepMs / 1000} s` : spec.title,
              paths: [0, 1, 2].map((i) => c.paths[i] || 'M0 0'),
              count: c.count,
              top: spec.series[0].unit === 'ms' ? this.ms(c.max) : formatNumber(c.max),
              from: h ? `−${h.window}` : '',
              label: `${spec.title}, ${span}: ${legend.map((l) => l.text).join('; ')}`,
              legend,
            };
          });
        },
      });

    Alpine.data('overviewHistory', () =>
      historyCharts('History', [
        { id: 'throughput', title: 'Jobs done and failed', kind: 'bars', series: [{ field: 'done', label: 'done' }, { field: 'failed', label: 'failed' }] },
        { id: 'depth', title: 'Queue depth', kind: 'line', series: [{ field: 'waiting', label: 'waiting' }, { field: 'active', label: 'active' }, { field: 'delayed', label: 'delayed' }] },
        { id: 'runtime', title: 'Run time of done jobs', kind: 'line', series: [{ field: 'p50_ms', label: 'p50', unit: 'ms' }, { field: 'p95_ms', label: 'p95', unit: 'ms' }, { field: 'p99_ms', label: 'p99', unit: 'ms' }] },
      ]),
    );

    Alpine.data('sumHistory', () => historyCharts('Over time', [{ id: 'sum', title: 'The sum over time', kind: 'line', series: [{ field: 'sum', label: 'sum' }] }]));

    Alpine.data('workers', () =>
      polling(2000, {
        list: slot(),
        load() {
          return request('GET', 'workers').then((r) => fill(this.list, r));
        },
        /** an interval: "10 min", "90 s" */
        every(ms) {
          if (typeof ms !== 'number') return '—';
          return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
        },
        /** when the next batch is due, from now: "in 4 min 10 s" */
        due(iso) {
          if (!iso) return '—';
          const s = Math.max(0, Math.round((Date.parse(iso) - this.now) / 1000));
          return s < 60 ? `in ${s} s` : `in ${Math.floor(s / 60)} min ${s % 60} s`;
        },
      }),
    );

    /** every queue's depth; pause and resume (admin) */
    Alpine.data('queues', () =>
      polling(2000, {
        list: slot(),
        notice: null,
        failure: null,
        load() {
          return request('GET', 'queues').then((r) => fill(this.list, r));
        },
        async toggle(q) {
          const action = q.paused ? 'resume' : 'pause';
          const r = await request('POST', `queues/${encodeURIComponent(q.name)}/${action}`);
          this.notice = r.ok ? `Queue ${q.name} is ${r.data.paused ? 'paused: it gives no new work' : 'running again'}.` : null;
          this.failure = r.ok ? null : r.error;
          this.load();
        },
      }),
    );

    Alpine.data('dlq', () =>
      polling(3000, {
        list: slot(),
        notice: null,
        failure: null,
        confirming: false,
        load() {
          return request('GET', 'dlq?limit=100').then((r) => fill(this.list, r));
        },
        report(r, text) {
          this.notice = r.ok ? text : null;
          this.failure = r.ok ? null : r.error;
        },
        async retry(id) {
          const r = await request('POST', `dlq/${encodeURIComponent(id)}/retry`);
          this.report(r, `Job ${id} is back on queue ${r.ok ? r.data.queue : ''}, its attempts from zero.`);
          this.load();
        },
        async purge() {
          this.confirming = false;
          const r = await request('DELETE', 'dlq');
          this.report(r, r.ok ? `Purged ${formatNumber(r.data.purged)} dead jobs.` : '');
          this.load();
        },
      }),
    );

    /** a job page's actions: a dead or failed job back on its queue (admin) */
    Alpine.data('jobActions', () => ({
      notice: null,
      failure: null,
      /** DEAD, or a FAILURE of a job that runs on a queue itself (not a prime count, nor its chunks) */
      get retryable() {
        const j = this.job.data;
        return Boolean(j && (j.state === 'DEAD' || (j.state === 'FAILURE' && j.queue && !j.parent_id)));
      },
      /** a job that has not finished can be cancelled (a chunk: its prime count) */
      get cancellable() {
        const j = this.job.data;
        return Boolean(j && !FINAL.includes(j.state));
      },
      async cancel() {
        const id = this.job.data.job_id;
        const r = await request('POST', `jobs/${encodeURIComponent(id)}/cancel`);
        this.notice = r.ok ? `Cancelled: ${r.data.job_id} is ${r.data.state}.` : null;
        this.failure = r.ok ? null : r.error;
        if (r.ok && r.data.job_id === id) this.job.data = r.data; // it is final now: no more to follow
      },
      async retry() {
        const id = this.job.data.job_id;
        const r = await request('POST', `jobs/${encodeURIComponent(id)}/retry`);
        this.notice = r.ok ? `Back on queue ${r.data.queue} as ${r.data.state}, its attempts from zero.` : null;
        this.failure = r.ok ? null : r.error;
        if (r.ok) this.start(); // follow it again: it is no longer final
      },
    }));
  });
})();

/*
 * Count primes (#/primes, #/primes/<job id>): the form (the server judges it; the hints only
 * advise) and the count's progress, live over its event stream, with one GET and polling when
 * the stream cannot be opened or breaks.
 */
'use strict';

(() => {
  const {
    FAILED,
    FINAL,
    PRIMES,
    every,
    fill,
    formatNumber,
    integerHint,
    openStream,
    polling,
    request,
    slot,
    toNumber,
  } = window.wizardLib;

  window.wizardConsole.add('pages/primes.html', {
    /** the recent prime counts, newest first, each with its result and duration, linked to its page */
    primesHistory: () =>
      polling(3000, {
        list: slot(),
        load() {
          return request('GET', 'jobs?type=primes&limit=10').then((r) => fill(this.list, r));
        },
        /** a count's primes, or '—' before it has them */
        primesOf(job) {
          return job.result && job.result.prime_count !== undefined ? formatNumber(job.result.prime_count) : '—';
        },
      }),
    primes: () => {
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
          this.job = {
            job_id: r.data.job_id,
            state: r.data.status,
            progress: { completed: 0, total: chunks },
            result: null,
            error: null,
            params: { n, chunks },
          };
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
          return Boolean(this.job && FAILED.includes(this.job.state));
        },
        finalText() {
          if (this.succeeded)
            return `Done: ${formatNumber(this.job.result.prime_count)} primes up to ${formatNumber(this.job.params.n)}.`;
          return `The job failed: ${this.job.error || 'no reason given'}`;
        },
      };
    },
  });
})();

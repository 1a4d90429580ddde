/*
 * Jobs (#/jobs): the top-level jobs filtered by state, type and queue, page by page, with the
 * count of each state; and a job's page
 * (#/jobs/<id>): its record followed until it is final, a prime count's chunks as bars and a
 * table, and its actions (cancel one that has not finished; retry a dead or failed one, admin).
 */
'use strict';

(() => {
  const { FINAL, JOB_STATES, fill, following, formatNumber, polling, progressText, request, slot } = window.wizardLib;

  /** the chunk bars' plot area (viewBox 0 0 600 140) */
  const BARS = { left: 4, right: 596, top: 10, bottom: 132 };

  /** the bars of a prime count's chunks: one per chunk, its height the primes it found, one path per kind of state */
  function chunkBars(chunks) {
    const kinds = {
      SUCCESS: 'done',
      STARTED: 'running',
      PROGRESS: 'running',
      PENDING: 'waiting',
      RETRY: 'waiting',
      FAILURE: 'failed',
      DEAD: 'failed',
    };
    const out = { done: [], running: [], waiting: [], failed: [] };
    const n = chunks.length || 1;
    const top = Math.max(1, ...chunks.map((c) => Number(c.result) || 0));
    const width = (BARS.right - BARS.left) / n;
    chunks.forEach((c, i) => {
      const h = c.state === 'SUCCESS' ? Math.max(2, ((Number(c.result) || 0) / top) * (BARS.bottom - BARS.top)) : 8;
      const x0 = BARS.left + i * width;
      out[kinds[c.state] || 'waiting'].push(
        `M${x0.toFixed(1)} ${BARS.bottom}v${(-h).toFixed(1)}h${Math.max(1, width - 2).toFixed(1)}v${h.toFixed(1)}Z`,
      );
    });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.join('') || 'M0 0']));
  }

  window.wizardConsole.add('pages/jobs.html', {
    jobs: () =>
      polling(3000, {
        states: JOB_STATES,
        /** the built-in types, offered as the type filter's suggestions (a --handlers type is typed in) */
        types: ['task', 'primes', 'sim'],
        status: '',
        type: '',
        queue: '',
        offset: 0,
        limit: 20,
        list: slot(),
        summary: slot(),
        queues: slot(),
        load() {
          const q = new URLSearchParams({ offset: String(this.offset), limit: String(this.limit) });
          if (this.status) q.set('status', this.status);
          if (this.type.trim()) q.set('type', this.type.trim());
          if (this.queue) q.set('queue', this.queue);
          return Promise.all([
            request('GET', `jobs?${q}`).then((r) => fill(this.list, r)),
            request('GET', 'metrics/summary').then((r) => fill(this.summary, r)),
            request('GET', 'queues').then((r) => fill(this.queues, r)),
          ]);
        },
        /** how many jobs are in a state now (every type and queue), or '' before the counts came */
        countOf(s) {
          const by = this.summary.data && this.summary.data.jobs.by_state;
          return by ? formatNumber(by[s] || 0) : '';
        },
        /** the queues to filter by: those known, and the one chosen even if it went */
        get queueNames() {
          const names = this.queues.data ? this.queues.data.queues.map((q) => q.name) : [];
          return this.queue && !names.includes(this.queue) ? [...names, this.queue] : names;
        },
        filter() {
          this.offset = 0;
          this.load();
        },
        /** the bulk action waiting for its confirmation: 'retry', 'cancel', 'delete' or '' */
        confirming: '',
        notice: null,
        failure: null,
        /** the filter in words, for the bulk actions' confirmation */
        get filterText() {
          const of = [this.type.trim() && `of type ${this.type.trim()}`, this.queue && `in queue ${this.queue}`];
          return of.filter(Boolean).join(' ') || 'of every type and queue';
        },
        /** what the confirmation asks */
        get question() {
          if (this.confirming === 'retry')
            return `Retry every ${this.status || 'DEAD and FAILURE'} job ${this.filterText}?`;
          if (this.confirming === 'delete')
            return `Delete every ${this.status} job ${this.filterText}, with its log? This cannot be undone.`;
          return `Cancel every ${this.status || 'unfinished'} job ${this.filterText}?`;
        },
        /** retry needs DEAD or FAILURE jobs: the state shown, or both when none is */
        get canRetry() {
          return !this.status || this.status === 'DEAD' || this.status === 'FAILURE';
        },
        get canCancel() {
          return !this.status || !FINAL.includes(this.status);
        },
        /** delete needs a final state chosen: what is deleted is then plain to see */
        get canDelete() {
          return FINAL.includes(this.status);
        },
        /** why Delete is off, while it is */
        get deleteHint() {
          return this.canDelete ? null : `choose a final state first: ${FINAL.join(', ')}`;
        },
        /**
         * retry every DEAD and FAILURE job of the filter, cancel every one that has not finished, or
         * delete every finished one of the state chosen (admin), once confirmed
         */
        async bulk() {
          const action = this.confirming;
          this.confirming = '';
          const body = {};
          if (this.status) body.status = this.status;
          if (this.type.trim()) body.type = this.type.trim();
          if (this.queue) body.queue = this.queue;
          const r =
            action === 'delete'
              ? await request('DELETE', `jobs?${new URLSearchParams(body)}`)
              : await request('POST', `jobs/${action}`, { body });
          const done = { retry: 'Retried', cancel: 'Cancelled', delete: 'Deleted' }[action];
          const more = r.ok && r.data.more ? '; more match: do it again for the next ones' : '';
          const skipped = r.ok && r.data.skipped ? ` (${formatNumber(r.data.skipped)} skipped)` : '';
          const n = r.ok ? (action === 'delete' ? r.data.deleted : r.data.acted) : 0;
          this.notice = r.ok ? `${done} ${formatNumber(n)} jobs ${this.filterText}${skipped}${more}.` : null;
          this.failure = r.ok ? null : r.error;
          this.load();
        },
        /** aria-pressed of a state's count: the state shown */
        pressed(s) {
          return this.status === s ? 'true' : 'false';
        },
        /** a state's count pressed: only that state, or all again when it was the one shown */
        pick(s) {
          this.status = this.status === s ? '' : s;
          this.filter();
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
          if (!d || d.total === 0) return d && d.partial ? 'No jobs among the newest looked at' : 'No jobs';
          const of = `${formatNumber(d.total)}${d.partial ? ' among the newest looked at' : ''}`;
          return `${formatNumber(this.offset + 1)}–${formatNumber(this.offset + d.jobs.length)} of ${of}`;
        },
        progressText,
      }),

    jobDetail: () =>
      following(1000, {
        job: slot(),
        chunks: slot(),
        logLines: slot(),
        reset() {
          this.job = slot();
          this.chunks = slot();
          this.logLines = slot();
        },
        async step() {
          const id = encodeURIComponent(this.route.id);
          const r = fill(this.job, await request('GET', `jobs/${id}`));
          if (r.ok) fill(this.logLines, await request('GET', `jobs/${id}/log`));
          if (r.ok && r.data.type === 'primes') fill(this.chunks, await request('GET', `jobs/${id}/chunks`));
          return r.ok && !FINAL.includes(r.data.state);
        },
        get isPrimes() {
          return Boolean(this.job.data && this.job.data.type === 'primes');
        },
        progressText,
        /** a plain object's fields as rows for a <dl> (a prime count's params and result), or null for anything else */
        fieldsOf(v) {
          if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
          return Object.entries(v).map(([k, x]) => ({
            k,
            v: typeof x === 'number' ? formatNumber(x) : typeof x === 'string' ? x : JSON.stringify(x),
          }));
        },
        /** "Attempts": a prime count is not run itself, its chunks are */
        attemptsText(job) {
          if (job.type === 'primes' && job.attempts === 0) return 'not run itself: its chunks are (below)';
          return `${job.attempts} of ${job.max_attempts}`;
        },
        chunkPaths(chunks) {
          return chunkBars(chunks || []);
        },
      }),

    /** a job page's actions: a dead or failed job back on its queue (admin) */
    jobActions: () => ({
      notice: null,
      failure: null,
      /** DEAD, or a FAILURE of a job that runs on a queue itself (not a prime count, nor its chunks) */
      get retryable() {
        const j = this.job.data;
        return Boolean(j && (j.state === 'DEAD' || (j.state === 'FAILURE' && j.type !== 'primes' && !j.parent_id)));
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
    }),
  });
})();

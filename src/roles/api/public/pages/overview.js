/*
 * The overview (#/): six cards (the store, queued jobs, workers and bots up, throughput, the
 * abacus sum), the cluster's history charts (charts.js) and the most recent jobs.
 */
'use strict';

(() => {
  const { RUNNABLE, fill, formatNumber, polling, request, slot } = window.wizardLib;
  const { historyCharts } = window.wizardCharts;

  window.wizardConsole.add('pages/overview.html', {
    overview: () =>
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
            {
              title: 'Store',
              figure: this.health.data ? (this.redisUp ? 'up' : 'down') : this.health.error ? '—' : '…',
              note: this.storeText,
            },
            {
              title: 'Queued jobs',
              figure: s ? formatNumber(this.queued) : '—',
              note: s
                ? `bot queue: ${formatNumber(s.queue.waiting)} waiting, ${formatNumber(s.queue.active)} active`
                : why,
            },
            { title: 'Workers up', figure: formatNumber(this.workersLive), note: 'live worker processes' },
            {
              title: 'Bots up',
              figure: s ? formatNumber(s.bots.up) : '—',
              note: s ? `of ${formatNumber(s.bots.total)} registered` : why,
            },
            {
              title: 'Throughput',
              figure: s ? formatNumber(s.throughput_per_minute) : '—',
              note: s ? `jobs/min · success ${this.percent(s.success_rate)}` : why,
            },
            {
              title: 'Abacus sum',
              figure: sum ? formatNumber(sum.sum) : '—',
              note: sum ? `read on ${sum.node_id}` : this.problem(this.sum),
            },
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
          return s ? RUNNABLE.reduce((n, state) => n + s.jobs.by_state[state], 0) : null;
        },
      }),

    overviewHistory: () =>
      historyCharts('History', [
        {
          id: 'throughput',
          title: 'Jobs done and failed',
          kind: 'bars',
          series: [
            { field: 'done', label: 'done' },
            { field: 'failed', label: 'failed' },
          ],
        },
        {
          id: 'depth',
          title: 'Queue depth',
          kind: 'line',
          series: [
            { field: 'waiting', label: 'waiting' },
            { field: 'active', label: 'active' },
            { field: 'delayed', label: 'delayed' },
          ],
        },
        {
          id: 'runtime',
          title: 'Run time of done jobs',
          kind: 'line',
          series: [
            { field: 'p50_ms', label: 'p50', unit: 'ms' },
            { field: 'p95_ms', label: 'p95', unit: 'ms' },
            { field: 'p99_ms', label: 'p99', unit: 'ms' },
          ],
        },
      ]),
  });
})();

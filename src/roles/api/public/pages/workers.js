/*
 * Workers (#/workers): the live workers and the schedulers, from their heartbeats; who leads and
 * when its next batch is due; the jobs running now and who runs each (STARTED and PROGRESS).
 */
'use strict';

(() => {
  const { fill, polling, progressText, request, slot } = window.wizardLib;
  /** the states of a job a worker or bot holds (HELD), and how many of those jobs the page lists */
  const RUNNING_STATES = window.wizardStates.HELD;
  const RUNNING_SHOWN = 50;

  window.wizardConsole.add('pages/workers.html', {
    workers: () =>
      polling(2000, {
        list: slot(),
        running: [],
        load() {
          return Promise.all([request('GET', 'workers').then((r) => fill(this.list, r)), this.loadRunning()]);
        },
        /** the jobs held now (STARTED, PROGRESS), oldest start first: what each worker and bot runs */
        async loadRunning() {
          const pages = await Promise.all(
            RUNNING_STATES.map((s) => request('GET', `jobs?status=${s}&limit=${RUNNING_SHOWN}`)),
          );
          if (!pages.every((r) => r.ok)) return;
          this.running = pages
            .flatMap((r) => r.data.jobs)
            .sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)))
            .slice(0, RUNNING_SHOWN);
          this.runningTotal = pages.reduce((n, r) => n + r.data.total, 0);
        },
        runningTotal: 0,
        progressText,
        /** an interval: "10 min", "90 s" */
        every(ms) {
          if (typeof ms !== 'number') return '—';
          return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
        },
      }),
  });
})();

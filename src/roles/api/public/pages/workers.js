/*
 * Workers (#/workers): the live workers and the schedulers, from their heartbeats; who leads and
 * when its next batch is due.
 */
'use strict';

(() => {
  const { fill, polling, request, slot } = window.wizardLib;

  window.wizardConsole.add('pages/workers.html', {
    workers: () =>
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
  });
})();

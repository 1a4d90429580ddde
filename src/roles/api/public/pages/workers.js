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
      }),
  });
})();

/*
 * Queues (#/queues): every queue's waiting, active and delayed jobs; pause and resume (admin), as
 * `wizard queue pause|resume` does.
 */
'use strict';

(() => {
  const { fill, polling, request, slot } = window.wizardLib;

  window.wizardConsole.add('pages/queues.html', {
    /** every queue's depth; pause and resume (admin) */
    queues: () =>
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
          this.notice = r.ok
            ? `Queue ${q.name} is ${r.data.paused ? 'paused: it gives no new work' : 'running again'}.`
            : null;
          this.failure = r.ok ? null : r.error;
          this.load();
        },
      }),
  });
})();

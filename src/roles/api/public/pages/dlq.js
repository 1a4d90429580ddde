/*
 * Dead letters (#/dlq): the jobs that used every attempt, most recent first; retry one, purge all
 * (admin), as `wizard dlq` does.
 */
'use strict';

(() => {
  const { fill, formatNumber, polling, request, slot } = window.wizardLib;

  window.wizardConsole.add('pages/dlq.html', {
    dlq: () =>
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
  });
})();

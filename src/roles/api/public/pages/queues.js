/*
 * Queues (#/queues): every queue's waiting, active and delayed jobs, its concurrency limits and
 * busiest groups (docs/flow-control.md); pause and resume (admin), as `wizard queue pause|resume` does.
 */
'use strict';

(() => {
  const { fill, polling, request, slot } = window.wizardLib;

  window.wizardConsole.add('pages/queues.html', {
    /** every queue's depth; pause and resume (admin) */
    queues: () =>
      polling(2000, {
        list: slot(),
        /** queue name -> GET /queues/:name/limits */
        limits: {},
        notice: null,
        failure: null,
        load() {
          return request('GET', 'queues').then((r) => {
            fill(this.list, r);
            for (const q of r.ok ? r.data.queues : [])
              request('GET', `queues/${encodeURIComponent(q.name)}/limits`).then((l) => {
                if (l.ok) this.limits = { ...this.limits, [q.name]: l.data };
              });
          });
        },
        /** "concurrency 10, per group 2, rate 5 per 1000 ms, per group 1 per 500 ms", or "none" */
        limitsOf(q) {
          const l = this.limits[q.name];
          if (!l) return '';
          const parts = [];
          if (l.concurrency !== null) parts.push(`concurrency ${l.concurrency}`);
          if (l.group_concurrency !== null) parts.push(`per group ${l.group_concurrency}`);
          if (l.rate) parts.push(`rate ${l.rate.max} per ${l.rate.per_ms} ms`);
          if (l.group_rate) parts.push(`per group ${l.group_rate.max} per ${l.group_rate.per_ms} ms`);
          return parts.length > 0 ? parts.join(', ') : 'none';
        },
        /** the three busiest groups: "acme 40 waiting / 2 running, …" */
        groupsOf(q) {
          const l = this.limits[q.name];
          if (!l || l.groups.length === 0) return '';
          return l.groups
            .slice(0, 3)
            .map((g) => `${g.group} ${g.waiting} waiting / ${g.running} running`)
            .join(', ');
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

/*
 * Schedules (#/schedules): every schedule (GET /schedules) with the jobs it made lately (the
 * newest top-level jobs, GET /jobs, whose `schedule` is its name; a prime count is one job there,
 * its chunks are not listed), its times from now as the other pages show them, and, with the
 * admin token, a form that adds one (POST /schedules) and a button that removes one
 * (DELETE /schedules/:name). A refused input or action shows the API's message in the page's one
 * error box; the store away is the root's banner, and the page stays with "—" meanwhile.
 */
'use strict';

(() => {
  const { fill, polling, request, slot } = window.wizardLib;

  /** how many of the newest jobs are read to find each schedule's, and how many are shown per schedule */
  const JOBS_READ = 500;
  const JOBS_SHOWN = 5;

  /** a params box's placeholder by type: what each built-in type takes */
  const PARAMS_HINT = {
    sim: '{"duration_ms": 2000, "failure_rate": 0}',
    task: '{"a": 2, "b": 3, "op": "add"}',
    primes: '{"n": 100000, "chunks": 4}',
  };

  window.wizardConsole.add('pages/schedules.html', {
    schedules: () =>
      polling(2000, {
        list: slot(),
        jobs: slot(),
        notice: null,
        /** the page's one error box: the API's refusal of an add or a remove */
        failure: null,
        confirming: null,
        name: '',
        type: 'sim',
        params: '',
        timing: 'every',
        everyMs: '60000',
        cron: '',
        tz: '',
        types: ['sim', 'task', 'primes'],

        load() {
          return Promise.all([
            request('GET', 'schedules').then((r) => fill(this.list, r)),
            request('GET', `jobs?limit=${JOBS_READ}`).then((r) => fill(this.jobs, r)),
          ]);
        },

        /** why the form is off, or '' when it can be used: the node has no admin token, or this tab holds none */
        get formOff() {
          if (this.adminOff)
            return 'Unavailable: this node has no admin token configured (ADMIN_TOKEN), so it refuses to add or remove schedules.';
          if (!this.tokenSet)
            return 'Adding and removing schedules need the admin token: set it at the top under "Token".';
          return '';
        },
        get paramsHint() {
          return PARAMS_HINT[this.type] || '{}';
        },
        get byCron() {
          return this.timing === 'cron';
        },

        /** each schedule with the jobs it made among the newest (newest slot first) and its last slot */
        get rows() {
          const list = this.list.data ? this.list.data.schedules : [];
          const jobs = this.jobs.data ? this.jobs.data.jobs : [];
          return list.map((s) => {
            const made = jobs
              .filter((j) => j.schedule === s.name)
              .sort((a, b) => String(b.slot).localeCompare(String(a.slot)));
            return {
              ...s,
              made: made.slice(0, JOBS_SHOWN),
              madeCount: made.length,
              lastSlot: made.length ? made[0].slot : null,
            };
          });
        },
        whenText(s) {
          if (s.every_ms !== null) return `every ${this.ms(s.every_ms)}`;
          return `cron ${s.cron} (${s.tz || 'UTC'})`;
        },
        madeText(s) {
          if (!this.jobs.data) return '';
          if (s.madeCount === 0) return 'No job of it among the newest yet.';
          return s.madeCount > JOBS_SHOWN
            ? `The newest ${JOBS_SHOWN} of ${s.madeCount} among the latest ${JOBS_READ} jobs:`
            : 'Its jobs:';
        },

        report(r, text) {
          this.notice = r.ok ? text : null;
          this.failure = r.ok ? null : r.error;
        },
        /** the form's body; params must be a JSON object (the page says so before asking) */
        body() {
          const body = { name: this.name.trim(), type: this.type.trim() };
          if (this.params.trim()) {
            let params;
            try {
              params = JSON.parse(this.params);
            } catch {
              params = undefined;
            }
            if (!params || typeof params !== 'object' || Array.isArray(params)) return null;
            body.params = params;
          }
          if (this.byCron) {
            body.cron = this.cron.trim();
            if (this.tz.trim()) body.tz = this.tz.trim();
          } else {
            body.every_ms = Number(this.everyMs);
          }
          return body;
        },
        async add() {
          const body = this.body();
          if (!body) {
            this.notice = null;
            this.failure = {
              kind: 'invalid',
              message: 'params must be a JSON object, e.g. ' + this.paramsHint,
              field: 'params',
            };
            return;
          }
          const r = await request('POST', 'schedules', { body });
          this.report(
            r,
            r.ok ? `Schedule ${r.data.name} added: its next occurrence at ${this.when(r.data.next_at)}.` : '',
          );
          if (r.ok) {
            this.name = '';
            this.params = '';
          }
          this.load();
        },
        async remove(name) {
          this.confirming = null;
          const r = await request('DELETE', `schedules/${encodeURIComponent(name)}`);
          this.report(r, `Schedule ${name} removed; the jobs it made are kept.`);
          this.load();
        },
      }),
  });
})();

/*
 * Math (#/math): a task queued with POST /task, followed every 400 ms until it is final (who
 * initiated, checked and handled it), and the same sum computed at once with GET /add.
 */
'use strict';

(() => {
  const { FINAL, every, request } = window.wizardLib;

  window.wizardConsole.add('pages/math.html', {
    math: () => {
      let stop = null;
      return {
        form: { a: '2', b: '3', op: 'add' },
        task: null,
        status: null,
        sync: null,
        error: null,
        busy: false,
        destroy() {
          stop?.();
        },
        operands() {
          const n = (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
          return { a: n(this.form.a), b: n(this.form.b), op: this.form.op };
        },
        async submit() {
          stop?.();
          this.busy = true;
          this.error = null;
          this.status = null;
          const r = await request('POST', 'task', { body: this.operands() });
          this.busy = false;
          if (!r.ok) {
            this.error = r.error;
            return;
          }
          this.task = r.data;
          stop = every(400, async () => {
            const s = await request('GET', `tasks/${encodeURIComponent(this.task.task_id)}/status`);
            if (s.ok) this.status = s.data;
            else this.error = s.error;
            if (s.ok && FINAL.includes(s.data.status)) stop();
          });
        },
        async computeNow() {
          this.error = null;
          const { a, b, op } = this.operands();
          const r = await request('GET', `add?${new URLSearchParams({ a: String(a), b: String(b), op })}`);
          if (r.ok) this.sync = r.data;
          else this.error = r.error;
        },
        get state() {
          return this.status ? this.status.status : this.task ? this.task.status : null;
        },
      };
    },
  });
})();

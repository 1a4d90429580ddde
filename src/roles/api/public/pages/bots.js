/*
 * Bots (#/bots, #/bots/<id>): every bot up or down with its last heartbeat, one bot's page,
 * registering a bot (as `wizard bot` does), and the admin actions: populate jobs, delete a bot.
 */
'use strict';

(() => {
  const { fill, formatNumber, polling, request, slot, toNumber } = window.wizardLib;

  window.wizardConsole.add('pages/bots.html', {
    bots: () =>
      polling(2000, {
        list: slot(),
        addName: '',
        populateCount: '5',
        notice: null,
        failure: null,
        confirming: null,
        init() {
          // a message belongs to the page it was given on
          this.$watch('route.id', () => {
            this.notice = null;
            this.failure = null;
            this.confirming = null;
          });
        },
        load() {
          return request('GET', 'bots').then((r) => fill(this.list, r));
        },
        get selected() {
          const d = this.list.data;
          return d ? d.bots.find((b) => b.bot_id === this.route.id) || null : null;
        },
        report(r, text) {
          this.notice = r.ok ? text : null;
          this.failure = r.ok ? null : r.error;
        },
        async addBot() {
          const body = this.addName.trim() ? { name: this.addName.trim() } : {};
          const r = await request('POST', 'bots/register', { body });
          this.report(
            r,
            r.ok
              ? `Registered ${r.data.name === r.data.bot_id ? r.data.bot_id : `${r.data.name} (${r.data.bot_id})`}. Its token, shown only now: ${r.data.token}`
              : '',
          );
          if (r.ok) this.addName = '';
          this.load();
        },
        async populate() {
          const r = await request('POST', 'jobs/populate', { body: { count: toNumber(this.populateCount) } });
          this.report(
            r,
            r.ok ? `Created ${formatNumber(r.data.created)} ${r.data.type} jobs in batch ${r.data.batch}.` : '',
          );
        },
        askDelete(id) {
          this.confirming = id;
        },
        cancelDelete() {
          this.confirming = null;
        },
        async remove(id) {
          this.confirming = null;
          const r = await request('DELETE', `bots/${encodeURIComponent(id)}`);
          this.report(r, `Deleted bot ${id}.`);
          if (r.ok && this.route.id === id) location.hash = '#/bots';
          this.load();
        },
      }),
  });
})();

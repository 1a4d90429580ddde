/*
 * Abacus (#/abacus): the running sum every API node shares, live; its history chart
 * (charts.js); adding a number; a reset (admin).
 */
'use strict';

(() => {
  const { fill, polling, request, slot, toNumber } = window.wizardLib;
  const { historyCharts } = window.wizardCharts;

  window.wizardConsole.add('pages/abacus.html', {
    abacus: () =>
      polling(1000, {
        sum: slot(),
        number: '',
        adds: [],
        failure: null,
        notice: null,
        confirming: false,
        load() {
          return request('GET', 'abacus/sum').then((r) => fill(this.sum, r));
        },
        get hint() {
          if (this.number.trim() === '') return '';
          const v = Number(this.number);
          return Number.isSafeInteger(v) ? '' : 'number must be an integer within ±9007199254740991';
        },
        async add() {
          const r = await request('POST', 'abacus/number', { body: { number: toNumber(this.number) } });
          this.failure = r.ok ? null : r.error;
          this.notice = null;
          if (!r.ok) return;
          this.adds.unshift({ key: `${r.data.timestamp}-${this.adds.length}`, ...r.data });
          this.adds.splice(8);
          this.sum.data = { sum: r.data.new_sum, timestamp: r.data.timestamp, node_id: r.data.node_id };
          this.number = '';
        },
        async reset() {
          this.confirming = false;
          const r = await request('DELETE', 'abacus/sum');
          this.failure = r.ok ? null : r.error;
          this.notice = r.ok ? r.data.message : null;
          this.load();
        },
      }),

    sumHistory: () =>
      historyCharts('Over time', [
        { id: 'sum', title: 'The sum over time', kind: 'line', series: [{ field: 'sum', label: 'sum' }] },
      ]),
  });
})();

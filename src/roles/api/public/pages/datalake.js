/*
 * Datalake (#/datalake): every finished job's record, counted per day (UTC), with an NDJSON
 * export link per day.
 */
'use strict';

(() => {
  const { fill, formatNumber, polling, request, slot } = window.wizardLib;

  window.wizardConsole.add('pages/datalake.html', {
    datalake: () =>
      polling(5000, {
        stats: slot(),
        load() {
          return request('GET', 'datalake/stats').then((r) => fill(this.stats, r));
        },
        get cards() {
          const d = this.stats.data;
          if (!d) return [];
          return [
            { title: 'Records', figure: formatNumber(d.total), note: `recording: ${d.records}` },
            { title: 'Success rate', figure: this.percent(d.success_rate), note: `${formatNumber(d.failure)} failed` },
            {
              title: 'Mean duration',
              figure: this.ms(d.mean_duration_ms),
              note: `kept ${d.retention_days} ${d.retention_days === 1 ? 'day' : 'days'}`,
            },
          ];
        },
        exportHref(date) {
          return `datalake/export/${encodeURIComponent(date)}`;
        },
        exportName(date) {
          return `datalake-${date}.ndjson`;
        },
      }),
  });
})();

/*
 * The history charts the overview and the abacus page share: SVG path data drawn from
 * GET /metrics/history's points (no library, nothing inline), the component that polls it
 * (historyCharts) and its markup (charts.html, copied into a page where an element says
 * data-include="history-charts"). The pages take chart() and historyCharts from window.wizardCharts.
 */
'use strict';

(() => {
  const { fill, formatNumber, polling, request, slot } = window.wizardLib;

  /** the windows a person can pick, in seconds, and the one the charts open on */
  const WINDOWS = { '5m': 300, '15m': 900, '1h': 3600 };
  const DEFAULT_WINDOW = '15m';
  /** the history's bucket when no answer has said it yet */
  const BUCKET_SEC = 10;

  /** the plot area inside the charts' viewBox (0 0 360 160) */
  const PLOT = { left: 40, right: 352, top: 10, bottom: 132 };

  /** a round number at or above v, for the top of a chart's scale */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const step = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step;
    return 10 * step;
  }

  /**
   * A chart of history points over [now - windowMs, now]: per series (a field of the points)
   * the path data of a line through its values with a dot at each point (kind 'line'), or of
   * stacked bars (kind 'bars': at most 90, so a long window sums neighbouring buckets into one
   * bar of stepMs). The right edge is the end of the current bucket. Answers {paths, max, count,
   * stepMs}: count is how many points are drawn (a bar with height, a line's value).
   */
  function chart(points, fields, { kind, windowMs, bucketMs: bucket, now }) {
    const bucketMs = kind === 'bars' ? bucket * Math.max(1, Math.ceil(windowMs / bucket / 90)) : bucket;
    if (bucketMs !== bucket) points = sumInto(points, fields, bucketMs);
    const from = Math.ceil(now / bucketMs) * bucketMs - windowMs;
    const x = (t) => PLOT.left + ((t - from) / windowMs) * (PLOT.right - PLOT.left);
    const value = (p, f) => (p[f] === null || p[f] === undefined ? null : Number(p[f]));
    const inWindow = points.filter((p) => Date.parse(p.at) + bucketMs > from);
    const totals = inWindow.map((p) =>
      kind === 'bars'
        ? fields.reduce((n, f) => n + (value(p, f) || 0), 0)
        : Math.max(0, ...fields.map((f) => value(p, f) || 0)),
    );
    const max = niceMax(Math.max(0, ...totals));
    const y = (v) => PLOT.bottom - (v / max) * (PLOT.bottom - PLOT.top);
    const r = (v) => Math.round(v * 10) / 10;
    const paths = fields.map(() => []);
    let count = 0;
    for (const p of inWindow) {
      const t = Date.parse(p.at);
      let base = 0;
      let any = false;
      fields.forEach((f, i) => {
        const v = value(p, f);
        // a bar is a point when it has height; a line's point is any value, 0 included
        if (v === null || (kind === 'bars' && v <= 0)) return;
        any = true;
        if (kind === 'bars') {
          const x0 = Math.max(PLOT.left, x(t));
          const w = Math.max(1, x(t + bucketMs) - x0 - 1);
          paths[i].push(`M${r(x0)} ${r(y(base))}V${r(y(base + v))}h${r(w)}V${r(y(base))}Z`);
          base += v;
        } else {
          const cx = x(t + bucketMs / 2);
          paths[i].push(`${paths[i].length ? 'L' : 'M'}${r(cx)} ${r(y(v))}`);
        }
      });
      if (any) count++;
    }
    // a dot at each point of a line (a zero-length segment with a round cap), so one point shows too
    const d = paths.map((segs) => {
      if (segs.length === 0) return 'M0 0';
      if (kind === 'bars') return segs.join('');
      return segs.join('') + segs.map((s) => `M${s.slice(1)}h0`).join('');
    });
    return { paths: d, max, count, stepMs: bucketMs };
  }

  /** points summed into wider buckets of stepMs (the fields given; nulls count as 0) */
  function sumInto(points, fields, stepMs) {
    const out = new Map();
    for (const p of points) {
      const at = Math.floor(Date.parse(p.at) / stepMs) * stepMs;
      const q = out.get(at) || Object.fromEntries([['at', new Date(at).toISOString()], ...fields.map((f) => [f, 0])]);
      for (const f of fields) q[f] += Number(p[f]) || 0;
      out.set(at, q);
    }
    return [...out.values()];
  }

  /**
   * The component of a page's history charts (GET /metrics/history), polled every 5 s. `specs`
   * says which: {id, title, kind: 'bars' | 'line', series: [{field, label, unit?}]}. They open on
   * DEFAULT_WINDOW; until an answer comes, the picked window labels the axis and the legend.
   */
  const historyCharts = (heading, specs) =>
    polling(5000, {
      heading,
      windows: Object.keys(WINDOWS),
      window: DEFAULT_WINDOW,
      history: slot(),
      load() {
        const asked = this.window;
        // an answer for a window no longer picked (a click while it was on its way) is dropped
        return request('GET', `metrics/history?window=${asked}`).then(
          (r) => asked === this.window && fill(this.history, r),
        );
      },
      pick(w) {
        this.window = w;
        this.load();
      },
      pressed(w) {
        return this.window === w ? 'true' : 'false';
      },
      get charts() {
        // the last answer, labelled by the window it is for; before the first (or while none comes), the window picked
        const h = this.history.data;
        const points = h ? h.points : [];
        const shown = h ? h.window : this.window;
        const opts = {
          windowMs: (h ? h.window_sec : WINDOWS[shown]) * 1000,
          bucketMs: (h ? h.bucket_sec : BUCKET_SEC) * 1000,
          now: h ? Date.parse(h.generated_at) : Date.now(),
        };
        const span = `the last ${shown}`;
        return specs.map((spec) => {
          const c = chart(
            points,
            spec.series.map((x) => x.field),
            { kind: spec.kind, ...opts },
          );
          const last = (f) => {
            for (let i = points.length - 1; i >= 0; i--)
              if (points[i][f] !== null && points[i][f] !== undefined) return points[i][f];
            return null;
          };
          // a bar chart's total over what was read ("—" while nothing was)
          const total = (f) => (h ? formatNumber(points.reduce((n, p) => n + (Number(p[f]) || 0), 0)) : '—');
          const legend = spec.series.map((x, i) => ({
            key: x.field,
            cls: `s${i}`,
            text: `${x.label}: ${spec.kind === 'bars' ? `${total(x.field)} in ${span}` : `${x.unit === 'ms' ? this.ms(last(x.field)) : formatNumber(last(x.field))} now`}`,
          }));
          return {
            id: spec.id,
            kind: `chart-svg kind-${spec.kind}`,
            title: spec.kind === 'bars' ? `${spec.title} per ${c.stepMs / 1000} s` : spec.title,
            paths: [0, 1, 2].map((i) => c.paths[i] || 'M0 0'),
            count: c.count,
            top: spec.series[0].unit === 'ms' ? this.ms(c.max) : formatNumber(c.max),
            from: `−${shown}`,
            label: `${spec.title}, ${span}: ${legend.map((l) => l.text).join('; ')}`,
            legend,
          };
        });
      },
    });

  window.wizardCharts = Object.freeze({ chart, historyCharts });
  window.wizardConsole.add('charts.html', {});
})();

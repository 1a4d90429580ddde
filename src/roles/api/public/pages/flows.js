/*
 * Flows (#/flows): the recent flows, each with its state and progress; and a flow's page
 * (#/flows/<id>): the flow drawn as its graph, followed until it has ended. The graph is laid out
 * in layers by depth (a node one row below its deepest dep), each node a link to its job's page
 * and coloured by its state as every state badge is (app.css: --state-fg, --state-bg); an edge
 * runs from each dep down to its dependent. A layer wider than WRAP nodes wraps onto more rows,
 * so a fan-out of hundreds stays readable, and a graph wider than the page scrolls in its box.
 */
'use strict';

(() => {
  const { fill, following, polling, request, slot } = window.wizardLib;

  /** a node's box, the gaps between boxes and rows, and the most nodes on one row (wider layers wrap) */
  const BOX = { w: 132, h: 34, gapX: 16, gapY: 44, wrapGapY: 12, pad: 12 };
  const WRAP = 8;
  /** the longest node id drawn whole; a longer one is cut (its title says it all) */
  const LABEL = 16;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  /**
   * each node's layer: 0 for a node without deps, else one more than its deepest dep's (a work
   * list in Kahn's order, no recursion: a chain of 10,000 nodes is fine). A dep the flow does
   * not hold is ignored.
   */
  function layers(nodes) {
    const ids = Object.keys(nodes);
    const depth = new Map();
    const left = new Map();
    const next = new Map();
    for (const id of ids) {
      const deps = [...new Set(nodes[id].deps || [])].filter((d) => d in nodes);
      left.set(id, deps.length);
      for (const d of deps) next.set(d, [...(next.get(d) || []), id]);
    }
    const ready = ids.filter((id) => left.get(id) === 0);
    for (const id of ready) depth.set(id, 0);
    for (let i = 0; i < ready.length; i++) {
      for (const n of next.get(ready[i]) || []) {
        depth.set(n, Math.max(depth.get(n) || 0, depth.get(ready[i]) + 1));
        left.set(n, left.get(n) - 1);
        if (left.get(n) === 0) ready.push(n);
      }
    }
    // a node on a cycle (the API refuses those) goes below the rest rather than nowhere
    const last = Math.max(0, ...depth.values()) + 1;
    for (const id of ids) if (!depth.has(id)) depth.set(id, last);
    const out = [];
    for (const id of ids) (out[depth.get(id)] ||= []).push(id);
    return out.filter(Boolean);
  }

  /**
   * where each node is drawn: its layer's row(s), ordered by the mean position of its deps in the
   * rows above (fewer crossings), a wide layer wrapped every WRAP nodes; the picture's size
   */
  function layout(nodes) {
    const at = new Map();
    let y = BOX.pad;
    let widest = 1;
    for (const layer of layers(nodes)) {
      const order = layer
        .map((id, i) => {
          const xs = (nodes[id].deps || []).filter((d) => at.has(d)).map((d) => at.get(d).x);
          return { id, key: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : i, i };
        })
        .sort((a, b) => a.key - b.key || a.i - b.i);
      const perRow = Math.min(WRAP, order.length);
      widest = Math.max(widest, perRow);
      order.forEach(({ id }, k) => {
        const row = Math.floor(k / WRAP);
        const inRow = Math.min(WRAP, order.length - row * WRAP);
        // x once the widest row is known: each row is centred on it
        at.set(id, { col: k % WRAP, inRow, y: y + row * (BOX.h + BOX.wrapGapY), x: 0 });
      });
      const rows = Math.ceil(order.length / WRAP);
      y += rows * BOX.h + (rows - 1) * BOX.wrapGapY + BOX.gapY;
    }
    const width = BOX.pad * 2 + widest * BOX.w + (widest - 1) * BOX.gapX;
    for (const p of at.values()) {
      const rowPx = p.inRow * BOX.w + (p.inRow - 1) * BOX.gapX;
      p.x = (width - rowPx) / 2 + p.col * (BOX.w + BOX.gapX);
    }
    return { at, width, height: Math.max(BOX.h + BOX.pad * 2, y - BOX.gapY + BOX.pad) };
  }

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  const label = (id) => (id.length > LABEL ? `${id.slice(0, LABEL - 1)}…` : id);

  /**
   * the flow's graph as SVG, into `box` (its content replaced): the edges under the nodes, a node
   * an <a> to its job's page with its state as a class (state-<state>) and in its title. Drawn
   * from scratch on each change: a few hundred elements, once a second at most.
   */
  function drawFlow(box, flow, jobHref) {
    const { at, width, height } = layout(flow.nodes);
    const svg = svgEl('svg', {
      class: 'flow-svg',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      'aria-label': `the flow's graph: ${at.size} nodes`,
    });
    const edges = svgEl('g', { class: 'flow-edges' });
    let edgeCount = 0;
    for (const [id, n] of Object.entries(flow.nodes)) {
      const to = at.get(id);
      for (const d of n.deps || []) {
        const from = at.get(d);
        if (!from) continue;
        const [x1, y1, x2, y2] = [from.x + BOX.w / 2, from.y + BOX.h, to.x + BOX.w / 2, to.y];
        const bend = Math.max(16, (y2 - y1) / 2);
        edges.append(
          svgEl('path', {
            class: 'flow-edge',
            'data-from': d,
            'data-to': id,
            d: `M${x1} ${y1}C${x1} ${y1 + bend} ${x2} ${y2 - bend} ${x2} ${y2}`,
          }),
        );
        edgeCount++;
      }
    }
    const nodes = svgEl('g', { class: 'flow-nodes' });
    for (const [id, n] of Object.entries(flow.nodes)) {
      const p = at.get(id);
      const state = String(n.state || '').toLowerCase();
      const a = svgEl('a', { href: jobHref(n.job_id), class: `flow-node state-${state}`, 'data-node': id });
      const title = svgEl('title', {});
      title.textContent = `${id}: ${n.state}${n.error ? ` (${n.error})` : ''}`;
      const rect = svgEl('rect', { x: p.x, y: p.y, width: BOX.w, height: BOX.h, rx: 6 });
      const text = svgEl('text', { x: p.x + BOX.w / 2, y: p.y + BOX.h / 2 + 5, 'text-anchor': 'middle' });
      text.textContent = label(id);
      a.append(title, rect, text);
      nodes.append(a);
    }
    svg.append(edges, nodes);
    if (edgeCount > 100) svg.classList.add('many-edges');
    svg.dataset.nodes = String(at.size);
    svg.dataset.edges = String(edgeCount);
    box.replaceChildren(svg);
  }

  /** how many nodes are in each state, most first: the graph's legend */
  function stateCounts(nodes) {
    const by = {};
    for (const n of Object.values(nodes)) by[n.state] = (by[n.state] || 0) + 1;
    return Object.entries(by)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([state, count]) => ({ state, count }));
  }

  window.wizardConsole.add('pages/flows.html', {
    flows: () =>
      polling(3000, {
        list: slot(),
        load() {
          return request('GET', 'flows').then((r) => fill(this.list, r));
        },
        flowHref(id) {
          return `#/flows/${encodeURIComponent(id)}`;
        },
        progressOf(f) {
          return `${this.num(f.progress.completed)}/${this.num(f.progress.total)}`;
        },
      }),

    flowDetail: () =>
      following(1000, {
        flow: slot(),
        /** the flow as drawn last: a poll that brings no change draws nothing */
        drawn: '',
        notice: null,
        failure: null,
        reset() {
          this.flow = slot();
          this.drawn = '';
          this.notice = null;
          this.failure = null;
        },
        async step() {
          const r = fill(this.flow, await request('GET', `flows/${encodeURIComponent(this.route.id)}`));
          if (r.ok) this.draw();
          return r.ok && r.data.state === 'RUNNING';
        },
        draw() {
          const f = this.flow.data;
          const seen = JSON.stringify(f.nodes);
          if (seen === this.drawn) return;
          this.$nextTick(() => {
            if (!this.$refs.graph || this.flow.data !== f) return;
            drawFlow(this.$refs.graph, f, (id) => this.jobHref(id));
            this.drawn = seen;
          });
        },
        get counts() {
          return this.flow.data ? stateCounts(this.flow.data.nodes) : [];
        },
        get cancellable() {
          return Boolean(this.flow.data && this.flow.data.state === 'RUNNING');
        },
        async cancel() {
          const r = await request('POST', `flows/${encodeURIComponent(this.flow.data.flow_id)}/cancel`);
          this.notice = r.ok ? `Cancelled: the flow is ${r.data.state}.` : null;
          this.failure = r.ok ? null : r.error;
          if (r.ok) {
            this.flow.data = r.data;
            this.draw();
          }
        },
      }),
  });
})();

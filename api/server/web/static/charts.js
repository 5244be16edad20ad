/* Small hand-written SVG charts (horizontal bars, stacked segments, reference lines).
 * Every chart is role="img" with a title; the same numbers are always shown in a table too. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* rows: [{label, segments: [{value, color, name}]}]; opts: {title, format, lines: [{value, label, color}], width} */
  function bars(container, rows, opts) {
    const o = Object.assign({ width: 640, labelWidth: 190, barHeight: 18, gap: 7, format: String, lines: [] }, opts || {});
    const totals = rows.map((r) => r.segments.reduce((a, s) => a + (s.value || 0), 0));
    const peak = Math.max(1e-9, ...totals, ...o.lines.map((l) => l.value));
    const plot = o.width - o.labelWidth - 70;
    const top = o.lines.length ? 16 : 4;
    const height = top + rows.length * (o.barHeight + o.gap) + o.gap;
    const root = svg("svg", { role: "img", width: o.width, height, viewBox: `0 0 ${o.width} ${height}`, class: "bars" });
    root.append(svg("title", {}, o.title || ""));
    rows.forEach((r, i) => {
      const y = top + o.gap + i * (o.barHeight + o.gap);
      root.append(svg("text", { x: o.labelWidth - 6, y: y + o.barHeight - 5, "text-anchor": "end", class: "lbl" }, String(r.label).slice(0, 28)));
      let x = o.labelWidth;
      for (const s of r.segments) {
        const w = ((s.value || 0) / peak) * plot;
        if (w <= 0) continue;
        const rect = svg("rect", { x: x.toFixed(1), y, width: w.toFixed(1), height: o.barHeight, fill: s.color });
        rect.append(svg("title", {}, `${r.label} · ${s.name || ""} ${o.format(s.value)}`));
        root.append(rect);
        x += w;
      }
      root.append(svg("text", { x: (x + 4).toFixed(1), y: y + o.barHeight - 5, class: "val" }, o.format(totals[i])));
    });
    for (const line of o.lines) {
      const x = o.labelWidth + (line.value / peak) * plot;
      root.append(svg("line", { x1: x, x2: x, y1: 12, y2: height, stroke: line.color || "#444", "stroke-dasharray": "4 3", "stroke-width": 1.5 }));
      root.append(svg("text", { x, y: 10, "text-anchor": "middle", class: "ref" }, line.label));
    }
    container.replaceChildren(root);
    return root;
  }

  function legend(container, items) {
    const box = document.createElement("div");
    box.className = "legend";
    for (const it of items) {
      const span = document.createElement("span");
      span.className = "legend-item";
      const sw = document.createElement("i");
      sw.className = "swatch";
      sw.setAttribute("aria-hidden", "true");
      sw.style.background = it.color;
      span.append(sw, document.createTextNode(it.name));
      box.append(span);
    }
    container.append(box);
  }

  window.RGCharts = { bars, legend };
})();

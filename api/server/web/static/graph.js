/* An evidence graph with Cytoscape.js: colours and shapes by entity type (with a legend),
 * expand a node (fetch its neighbourhood from the API), highlight a path or a cycle, and a
 * keyboard-usable node list mirroring the canvas. */
(function () {
  "use strict";
  const { t, el, api, entityLink, isMasked } = window.RG;

  const STYLE_BY_LABEL = {
    Household: ["#c0392b", "round-rectangle"], Person: ["#1f77b4", "ellipse"],
    Payment: ["#2e8b3a", "diamond"], Account: ["#7b4fb0", "hexagon"], Phone: ["#8c564b", "triangle"],
    Vehicle: ["#d6338a", "rectangle"], Property: ["#5f6b76", "rectangle"], DeathRecord: ["#111111", "star"],
    PayrollRecord: ["#9a8f00", "vee"], PrisonTerm: ["#0f8797", "octagon"], Enterprise: ["#e07000", "ellipse"],
    GovUnit: ["#12386b", "round-rectangle"], Loan: ["#8c6d31", "diamond"], Bond: ["#5b5fc7", "diamond"],
    Project: ["#557a1f", "pentagon"], Region: ["#8a8a8a", "barrel"], RejectedRow: ["#b00020", "tag"],
  };
  const FALLBACK = ["#666666", "ellipse"];

  function labelName(label) {
    return window.RG.labelName(label);
  }

  function nodeKey(label, id) {
    return label + "|" + id;
  }

  function caption(node) {
    const p = node.properties || {};
    const money = p.amount !== undefined && p.amount !== null ? " " + window.RG.num(p.amount, 0) + (window.RG.cfg.lang === "zh" ? "元" : "") : "";
    const text = node.label === "Payment" && p.paid_date ? p.paid_date + money
      : p.name || (p.program ? window.RG.valueName(p.program) : null) || p.position || node.id;
    return String(text).length > 18 ? String(text).slice(0, 17) + "…" : String(text);
  }

  function toElements(sub) {
    const nodes = (sub.nodes || []).map((n) => {
      const [color, shape] = STYLE_BY_LABEL[n.label] || FALLBACK;
      return { group: "nodes", data: { id: nodeKey(n.label, n.id), eid: n.id, label: n.label, caption: caption(n), color, shape, record: n } };
    });
    const edges = (sub.edges || []).map((e) => ({
      group: "edges",
      data: { id: [e.type, e.id, e.src, e.dst].join("|"), source: nodeKey(e.src_label, e.src), target: nodeKey(e.dst_label, e.dst), type: e.type, typeName: window.RG.typeName(e.type), record: e },
    }));
    return nodes.concat(edges);
  }

  function create(options) {
    const container = options.container;
    const cy = window.cytoscape({
      container,
      elements: [],
      minZoom: 0.1,
      maxZoom: 3,
      style: [
        { selector: "node", style: { "background-color": "data(color)", shape: "data(shape)", label: "data(caption)", "font-size": 12, color: "#1a1a1a", "text-valign": "bottom", "text-margin-y": 3, width: 22, height: 22, "text-background-color": "#ffffff", "text-background-opacity": 0.7, "text-background-padding": 1 } },
        { selector: "node.focus", style: { width: 30, height: 30, "border-width": 2, "border-color": "#1a1a1a", "font-weight": "bold" } },
        { selector: "edge", style: { width: 1.5, "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1", "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
        { selector: "edge.labelled", style: { label: "data(typeName)", "font-size": 7, color: "#444", "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.8 } },
        { selector: ".faded", style: { opacity: 0.15 } },
        { selector: "node.hl", style: { "border-width": 4, "border-color": "#d4001a", opacity: 1 } },
        { selector: "edge.hl", style: { "line-color": "#d4001a", "target-arrow-color": "#d4001a", width: 4, opacity: 1 } },
        { selector: "node:selected", style: { "overlay-color": "#0b5fff", "overlay-opacity": 0.3, "overlay-padding": 6 } },
        { selector: ".context", style: { display: "none" } },
        { selector: ".context.shown", style: { display: "element" } },
      ],
    });
    const focus = new Set(options.focus || []);
    const nodeList = options.nodeList;
    const expandButton = options.expandButton;
    let selected = null;

    /* Ids the flag's evidence names (records, sequences, figures): these are drawn first. */
    const evidenceIds = new Set(focus);
    (function collect(v) {
      if (typeof v === "string") evidenceIds.add(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === "object") Object.values(v).forEach(collect);
    })(options.evidence || {});
    let contextShown = !options.evidence;

    function visible() {
      return cy.elements().filter((e) => !e.hasClass("context") || e.hasClass("shown"));
    }

    function markContext() {
      if (!options.evidence) return;
      const core = cy.nodes().filter((n) => evidenceIds.has(n.data("eid")));
      if (core.length < 2) {
        // the evidence names one entity: draw its neighbours, but at most the 8 latest payments
        const pays = cy.nodes().filter((n) => n.data("label") === "Payment").sort((a, b) =>
          String((b.data("record").properties || {}).paid_date || "").localeCompare(String((a.data("record").properties || {}).paid_date || "")));
        if (pays.length <= 8) {
          contextShown = true;
        } else {
          cy.nodes().forEach((n) => { if (n.data("label") !== "Payment") evidenceIds.add(n.data("eid")); });
          pays.slice(0, 8).forEach((n) => evidenceIds.add(n.data("eid")));
        }
      }
      cy.nodes().forEach((n) => n.toggleClass("context", !evidenceIds.has(n.data("eid"))));
      cy.edges().forEach((e) => e.toggleClass("context", e.source().hasClass("context") || e.target().hasClass("context")));
      cy.elements(".context").toggleClass("shown", contextShown);
    }

    /* Payments in time order (left to right, wrapping), the people and accounts above them. */
    function timeline(nodes) {
      const pays = nodes.filter((n) => n.data("label") === "Payment").sort((a, b) =>
        String((a.data("record").properties || {}).paid_date || "").localeCompare(String((b.data("record").properties || {}).paid_date || "")));
      const others = nodes.filter((n) => n.data("label") !== "Payment");
      const perRow = 6;
      const positions = {};
      others.forEach((n, i) => { positions[n.id()] = { x: (i - (others.length - 1) / 2) * 170, y: 0 }; });
      pays.forEach((n, i) => {
        const row = Math.floor(i / perRow);
        const col = i % perRow;
        positions[n.id()] = { x: (col - (Math.min(perRow, pays.length) - 1) / 2) * 135, y: 150 + row * 80 };
      });
      return { name: "preset", positions: (n) => positions[n.id()] || { x: 0, y: -160 }, animate: false };
    }

    function relayout() {
      const shown = visible();
      const nodes = shown.nodes();
      cy.edges().toggleClass("labelled", shown.edges().length <= 24);
      let layout;
      const sequences = candidatePaths(options.evidence || {}, new Set(cy.nodes().map((n) => n.data("eid"))));
      const seq = sequences.find((p) => p.ids.filter((id) => nodes.some((n) => n.data("eid") === id)).length >= 2);
      const payments = nodes.filter((n) => n.data("label") === "Payment").length;
      if (payments >= 2 && !contextShown) {
        layout = timeline(nodes);
        layout.kind = "timeline";
      } else if (seq && seq.closed && !contextShown) {
        // the cycle round in its own order (clockwise from the top), everything else outside it
        const ring = seq.ids.filter((id, i) => seq.ids.indexOf(id) === i && nodes.some((n) => n.data("eid") === id));
        const r = Math.max(120, ring.length * 40);
        const spot = new Map(ring.map((id, i) => {
          const a = -Math.PI / 2 + (2 * Math.PI * i) / ring.length;
          return [id, { x: r * Math.cos(a), y: r * Math.sin(a) }];
        }));
        const rest = nodes.filter((n) => !spot.has(n.data("eid")));
        rest.forEach((n, i) => {
          const a = -Math.PI / 2 + (2 * Math.PI * (i + 0.5)) / Math.max(1, rest.length);
          spot.set(n.data("eid"), { x: 1.7 * r * Math.cos(a), y: 1.7 * r * Math.sin(a) });
        });
        layout = { name: "preset", positions: (n) => spot.get(n.data("eid")) || { x: 0, y: 0 }, animate: false };
        layout.kind = "cycle";
      } else if (seq && !contextShown) {
        const root = nodes.filter((n) => n.data("eid") === seq.ids[0]);
        layout = { name: "breadthfirst", directed: true, roots: root.length ? root : undefined, spacingFactor: 1.3, animate: false };
      } else if (nodes.length > 250) {
        layout = { name: "concentric", concentric: (n) => n.degree(), levelWidth: () => 3, animate: false };
      } else if (nodes.length <= 40) {
        // the flag's (or page's) own entities in the middle, the rest in rings around them
        layout = { name: "concentric", animate: false, minNodeSpacing: 55, avoidOverlap: true,
          concentric: (n) => (focus.has(n.data("eid")) ? 3 : evidenceIds.has(n.data("eid")) ? 2 : 1), levelWidth: () => 1 };
      } else {
        layout = { name: "cose", animate: false, randomize: true, nodeRepulsion: 9000, idealEdgeLength: 80, numIter: 800 };
      }
      container.dataset.layout = layout.kind || layout.name;
      shown.layout(layout).run();
      cy.fit(shown, 30);
    }

    function refreshList() {
      if (!nodeList) return;
      const nodes = visible().nodes().sort((a, b) => (a.data("label") + a.data("caption")).localeCompare(b.data("label") + b.data("caption")));
      nodeList.replaceChildren(
        el("option", { value: "" }, "—"),
        ...nodes.map((n) => el("option", { value: n.id(), selected: selected && selected.id() === n.id() }, labelName(n.data("label")) + ": " + n.data("caption")))
      );
    }

    function legend(target) {
      if (!target) return;
      const labels = [...new Set(cy.nodes().map((n) => n.data("label")))].sort((a, b) => labelName(a).localeCompare(labelName(b)));
      target.replaceChildren(
        el("span", { class: "legend-title", text: t("legend") + ":" }),
        ...labels.map((l) => {
          const [color] = STYLE_BY_LABEL[l] || FALLBACK;
          const swatch = el("i", { class: "swatch", "aria-hidden": "true" });
          swatch.style.background = color;
          return el("span", { class: "legend-item" }, swatch, labelName(l));
        })
      );
    }

    function details(node) {
      const target = options.details;
      if (!target) return;
      if (!node) {
        target.replaceChildren();
        return;
      }
      const rec = node.data("record");
      const RG = window.RG;
      const rows = Object.entries(rec.properties || {}).filter(([k]) => !k.startsWith("_")).slice(0, 12);
      target.replaceChildren(
        el("h3", { text: t("selected") + ": " + labelName(rec.label) }),
        el("p", {}, el("code", { text: rec.id }), " ", isMasked(rec.id) ? "" : entityLink(rec.id, rec.label, t("open_entity"))),
        el("dl", { class: "props" }, rows.flatMap(([k, v]) => [el("dt", { text: RG.fieldName(k) }),
          el("dd", { text: k === "region_code" ? RG.regionLabel(String(v)) : Array.isArray(v) ? v.map(RG.valueName).join("、") : typeof v === "number" ? RG.num(v) : String(RG.valueName(v)) })]))
      );
    }

    function select(node) {
      cy.nodes().unselect();
      selected = node && node.length ? node : null;
      if (selected) {
        selected.select();
        cy.animate({ center: { eles: selected }, duration: 150 });
      }
      if (expandButton) expandButton.disabled = !selected || isMasked(selected.data("eid"));
      if (nodeList) nodeList.value = selected ? selected.id() : "";
      details(selected);
    }

    function add(sub, expanded) {
      const fresh = toElements(sub).filter((e) => cy.getElementById(e.data.id).empty());
      if (expanded) fresh.forEach((e) => { if (e.group === "nodes") evidenceIds.add(e.data.eid); });
      const known = new Set(cy.nodes().map((n) => n.id()));
      // an edge to a node the API did not return (hidden for this user) is left out
      const usable = fresh.filter((e) => e.group === "nodes" || ((known.has(e.data.source) || fresh.some((f) => f.data.id === e.data.source)) && (known.has(e.data.target) || fresh.some((f) => f.data.id === e.data.target))));
      cy.add(usable);
      cy.nodes().forEach((n) => n.toggleClass("focus", focus.has(n.data("eid"))));
      markContext();
      relayout();
      refreshList();
      legend(options.legend);
      return usable.length;
    }

    async function expand(node) {
      const target = node || selected;
      if (!target || isMasked(target.data("eid"))) return 0;
      const sub = await api("/api/v1/entities/" + encodeURIComponent(target.data("eid")) + "/neighborhood?limit=200&label=" + encodeURIComponent(target.data("label")));
      const n = add(sub, true);
      select(cy.getElementById(target.id()));
      return n;
    }

    function highlight(ids, closed) {
      cy.elements().removeClass("hl faded");
      if (!ids || ids.length < 2) return 0;
      const byEid = (id) => cy.nodes().filter((n) => n.data("eid") === id);
      const hl = cy.collection();
      const seq = closed ? ids.concat([ids[0]]) : ids;
      for (let i = 0; i < seq.length; i++) {
        const a = byEid(seq[i]);
        hl.merge(a);
        if (i + 1 < seq.length) {
          const b = byEid(seq[i + 1]);
          hl.merge(a.edgesWith(b));
        }
      }
      if (!hl.length) return 0;
      cy.elements().not(hl).addClass("faded");
      hl.addClass("hl");
      cy.fit(visible(), 30);
      return hl.nodes().length;
    }

    cy.on("tap", "node", (e) => select(e.target));
    cy.on("dbltap", "node", (e) => expand(e.target).catch((err) => window.RG.showError(options.details, err)));
    cy.on("tap", (e) => {
      if (e.target === cy) select(null);
    });
    if (nodeList) nodeList.addEventListener("change", () => select(nodeList.value ? cy.getElementById(nodeList.value) : null));
    if (expandButton) expandButton.addEventListener("click", () => expand().catch((err) => window.RG.showError(options.details, err)));
    if (options.fitButton) options.fitButton.addEventListener("click", () => cy.fit(visible(), 30));
    const ctxButton = options.contextButton;
    function setContext(on) {
      contextShown = on;
      cy.elements(".context").toggleClass("shown", on);
      if (ctxButton) {
        ctxButton.textContent = on ? t("hide_context") : t("show_context");
        ctxButton.setAttribute("aria-pressed", on ? "true" : "false");
      }
      relayout();
      refreshList();
      container.dataset.nodes = String(visible().nodes().length);
    }
    if (ctxButton) {
      if (!options.evidence) ctxButton.hidden = true;
      ctxButton.addEventListener("click", () => setContext(!contextShown));
    }

    add(options.subgraph || { nodes: [], edges: [] });
    if (ctxButton) ctxButton.textContent = contextShown ? t("hide_context") : t("show_context");
    cy.fit(visible(), 30);
    container.dataset.nodes = String(visible().nodes().length);
    container.dataset.total = String(cy.nodes().length);
    cy.on("add remove", () => { container.dataset.nodes = String(visible().nodes().length); container.dataset.total = String(cy.nodes().length); });
    return { cy, add, expand, highlight, select };
  }

  /* Sequences of ids in a flag's evidence that can be drawn as a path or a cycle:
   * lists of ids (``path``, ``chain``, ``pair``, ``members``) and lists of such lists (``cycles``). */
  function candidatePaths(evidence, knownIds) {
    const out = [];
    function visit(value, key) {
      if (Array.isArray(value)) {
        if (value.length >= 2 && value.every((v) => typeof v === "string")) {
          const hits = value.filter((v) => knownIds.has(v)).length;
          if (hits >= 2) out.push({ key, ids: value, closed: key === "cycles" || key === "cycle" });
          return;
        }
        value.forEach((v) => visit(v, key));
      } else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) visit(v, k);
      }
    }
    visit(evidence || {}, "evidence");
    // the flag's own sequences first: cycles, paths and chains, then mere member lists
    const rank = (p) => (p.closed ? 0 : /path|chain/.test(p.key) ? 1 : p.key === "members" ? 3 : 2);
    out.sort((a, b) => rank(a) - rank(b));
    return out.slice(0, 50);
  }

  window.RGGraph = { create, candidatePaths, labelName };
})();

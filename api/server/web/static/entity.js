/* An entity: properties masked per role, neighbours, ownership chain and controllers, flags. */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, num, severityBadge, statusBadge, detectorTitle, entityLink, flagLink, cfg } = RG;
  const id = cfg.entity_id;
  const label = cfg.label;
  const base = "/api/v1/entities/" + encodeURIComponent(id);
  const qs = "?label=" + encodeURIComponent(label);

  function renderProps(node) {
    const name = (node.properties || {}).name;
    document.getElementById("entity-head").replaceChildren(
      el("h1", { text: (name ? name + " · " : "") + RG.labelName(node.label) }),
      el("p", { class: "meta" }, el("code", { text: node.id }), " · " + t("regions") + ": " + (node.regions || []).map((c) => RG.regionLabel(c)).join("、")));
    document.title = (name || node.id) + " · riskgraph";
    const rows = Object.entries(node.properties || {}).filter(([k]) => !k.startsWith("_")).map(([k, v]) => ({ k, v }));
    for (const k of node.masked || []) if (!(k in (node.properties || {}))) rows.push({ k, note: t("masked_value") });
    for (const k of node.hidden || []) rows.push({ k, note: t("hidden_value") });
    const maskedSet = new Set(node.masked || []);
    document.getElementById("props").replaceChildren(RG.table([
      { title: t("property"), cell: (r) => RG.fieldName(r.k) },
      { title: t("value"), cell: (r) => r.note ? el("em", { class: "muted", text: r.note })
        : el("span", {}, typeof r.v === "number" ? num(r.v) : typeof r.v === "boolean" ? (r.v ? t("yes") : t("no"))
          : Array.isArray(r.v) ? r.v.map(RG.valueName).join("、") : r.k.endsWith("region_code") || r.k === "parent_code" ? RG.regionLabel(String(r.v ?? "")) : String(RG.valueName(r.v ?? "")),
          maskedSet.has(r.k) ? el("span", { class: "badge masked", text: t("masked_value") }) : null) },
    ], rows));
  }

  function renderNeighbours(sub) {
    const me = label + "|" + id;
    const byKey = new Map(sub.nodes.map((n) => [n.label + "|" + n.id, n]));
    const rows = sub.edges.filter((e) => e.src_label + "|" + e.src === me || e.dst_label + "|" + e.dst === me).map((e) => {
      const out = e.src_label + "|" + e.src === me;
      const other = out ? byKey.get(e.dst_label + "|" + e.dst) : byKey.get(e.src_label + "|" + e.src);
      return { e, out, other };
    }).filter((r) => r.other);
    document.getElementById("neighbours").replaceChildren(RG.table([
      { title: t("relationship"), cell: (r) => RG.typeName(r.e.type) },
      { title: t("direction"), cell: (r) => (r.out ? "→ " + t("out") : "← " + t("in")) },
      { title: t("entity_title"), cell: (r) => el("span", {}, RG.labelName(r.other.label) + " ", entityLink(r.other.id, r.other.label, (r.other.properties || {}).name || r.other.id)) },
    ], rows.slice(0, 300)));
  }

  function pct(v) {
    return v === null || v === undefined ? "" : num(v, 2) + "%";
  }

  async function renderControl() {
    if (label !== "Enterprise" && label !== "GovUnit") return;
    const card = document.getElementById("ownership-card");
    card.hidden = false;
    const box = document.getElementById("ownership");
    try {
      const c = await api(base + "/control");
      const holders = RG.table([
        { title: t("holder"), cell: (h) => entityLink(h.holder_id, h.holder_label) },
        { title: t("share_pct"), cell: (h) => pct(h.share_pct), numeric: true },
        { title: t("voting_pct"), cell: (h) => pct(h.voting_pct), numeric: true },
      ], c.direct_holders);
      const controllers = c.controllers.length ? RG.table([
        { title: t("controller"), cell: (r) => entityLink(r.controller_id, r.controller_label) },
        { title: t("control_test"), cell: (r) => t("test_" + r.test) },
        { title: t("control_pct"), cell: (r) => pct(r.control_pct), numeric: true },
        { title: t("cash_flow_pct"), cell: (r) => pct(r.cash_flow_pct), numeric: true },
        { title: t("gov_linked"), cell: (r) => (r.gov_linked ? t("yes") : t("no")) },
        { title: t("chain"), cell: (r) => el("span", { class: "chain" }, r.chain.flatMap((x, i) => (i ? [" → " + (r.chain_pcts[i - 1] != null ? "(" + pct(r.chain_pcts[i - 1]) + ") " : ""), entityLink(x, null)] : [entityLink(x, null)]))) },
      ], c.controllers) : el("p", { class: "muted", text: t("no_controllers") });
      box.replaceChildren(el("h3", { text: t("direct_holders") }), holders, el("h3", { text: t("controllers") }), controllers);
    } catch (err) {
      RG.showError(box, err);
    }
  }

  async function renderFlags() {
    const box = document.getElementById("entity-flags");
    try {
      const data = await api("/web/api/entities/" + encodeURIComponent(id) + "/flags" + qs);
      if (!data.items.length) {
        box.replaceChildren(el("p", { class: "muted", text: t("none") }));
        return;
      }
      box.replaceChildren(RG.table([
        { title: t("col_severity"), cell: (f) => severityBadge(f.severity) },
        { title: t("col_score"), cell: (f) => RG.scoreCell(f), numeric: true },
        { title: t("col_detector"), cell: (f) => detectorTitle(f.detector) },
        { title: t("col_explanation"), cell: (f) => flagLink(f.flag_id, (f.explanation || {})[cfg.lang] || f.flag_id) },
        { title: t("col_status"), cell: (f) => statusBadge(f.status) },
      ], data.items));
    } catch (err) {
      RG.showError(box, err);
    }
  }

  async function load() {
    try {
      const node = await api(base + qs);
      renderProps(node);
      const sub = await api(base + "/neighborhood" + qs + "&limit=200");
      renderNeighbours(sub);
      // the entity and its neighbours first, but at most the 8 latest payments (a household
      // has ~100): the rest one click away ("show surrounding entities")
      const payments = sub.nodes.filter((n) => n.label === "Payment")
        .sort((a, b) => String((b.properties || {}).paid_date || "").localeCompare(String((a.properties || {}).paid_date || "")));
      const first = sub.nodes.filter((n) => n.label !== "Payment").map((n) => n.id).concat(payments.slice(0, 8).map((n) => n.id));
      window.RGGraph.create({
        container: document.getElementById("cy"), subgraph: sub, focus: [id],
        evidence: payments.length > 8 ? { first } : null, contextButton: document.getElementById("g-context"),
        legend: document.getElementById("legend"), details: document.getElementById("selected"),
        nodeList: document.getElementById("g-nodes"), expandButton: document.getElementById("g-expand"),
        fitButton: document.getElementById("g-fit"),
      });
    } catch (err) {
      RG.showError(document.getElementById("props"), err);
    }
    renderControl();
    renderFlags();
  }

  load();
})();

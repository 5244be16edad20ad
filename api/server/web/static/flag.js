/* One flag on one screen: why it was flagged, every source record (paged), the graph, the
 * decision. Every key, value, label and relationship type is shown in the page's language
 * (RG.fieldName, RG.valueName: the schema's, the contract's and the vocabulary's words). */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, num, when, severityBadge, statusBadge, detectorTitle, entityLink, cfg } = RG;
  const { fieldName, valueName, labelName, sourceText, regionLabel } = RG;
  const flagId = cfg.flag_id;
  const SEQUENCE_KEYS = new Set(["path", "chain", "control_path", "pair", "members", "cycle", "cycles",
    "guarantor_chain", "debtor_chain", "nodes", "government_units", "regions_included"]);
  const CLOSED_KEYS = new Set(["cycle", "cycles", "members"]);
  let known = new Map(); // entity id -> {label, name}

  function entityText(id) {
    const k = known.get(id);
    const name = k && k.name;
    return name ? name : String(id);
  }

  function entityNode(id) {
    const k = known.get(id);
    if (!k) return el("span", { text: String(id) });
    const link = entityLink(id, k.label, k.name || String(id));
    link.title = labelName(k.label) + " " + id;
    return link;
  }

  /* A list of ids as a readable sequence: A → B → C (→ A for a cycle). */
  function sequence(ids, closed) {
    const parts = [];
    ids.forEach((id, i) => {
      if (i) parts.push(el("span", { class: "arrow", "aria-hidden": "true", text: " → " }));
      parts.push(typeof id === "string" && known.has(id) ? entityNode(id) : el("span", { text: String(valueName(id)) }));
    });
    if (closed && ids.length > 1) {
      parts.push(el("span", { class: "arrow", "aria-hidden": "true", text: " → " }), typeof ids[0] === "string" && known.has(ids[0]) ? entityNode(ids[0]) : el("span", { text: String(ids[0]) }));
    }
    return el("span", { class: "sequence" }, parts);
  }

  function isScalar(v) {
    return v === null || v === undefined || typeof v !== "object";
  }

  function scalarNode(value, key) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "number") return num(value, Math.abs(value) < 1 ? 4 : 2);
    if (typeof value === "boolean") return value ? t("yes") : t("no");
    const text = String(value);
    if (known.has(text)) return entityNode(text);
    if (cfg.detectors[text]) return detectorTitle(text); // another detector's finding
    if (/^F[0-9a-f]{20}$/.test(text)) return RG.flagLink(text, text);
    if ((key === "region_code" || key === "region") && /^\d{6}$/.test(text)) return regionLabel(text);
    return String(valueName(text));
  }

  /* Any value in the page's words: scalars, sequences, lists, records (never raw JSON). */
  function valueNode(value, key) {
    if (isScalar(value)) return scalarNode(value, key);
    if (Array.isArray(value)) {
      if (!value.length) return el("span", { class: "muted", text: t("none") });
      if (value.every((v) => Array.isArray(v) && v.every(isScalar))) {
        return el("ol", { class: "sequences" }, value.map((v) => el("li", {}, sequence(v, CLOSED_KEYS.has(key)))));
      }
      if (value.every(isScalar)) {
        if (SEQUENCE_KEYS.has(key) && value.length > 1) return sequence(value, CLOSED_KEYS.has(key) && key !== "members");
        return el("span", {}, value.flatMap((v, i) => (i ? ["、", scalarNode(v, key)] : [scalarNode(v, key)])));
      }
      return el("ul", { class: "plain" }, value.map((v) => el("li", {}, valueNode(v, key))));
    }
    return propsList(value);
  }

  /* A loader's message is English; in Chinese pages its reason code's name says the same. */
  function shownKey(obj, k) {
    return !(k === "message" && cfg.lang === "zh" && obj.reason && ((cfg.vocab || {}).values || {})[obj.reason]);
  }

  function propsList(obj) {
    const entries = Object.entries(obj).filter(([k]) => k !== "table" && k !== "line" && shownKey(obj, k));
    const source = obj.table ? [el("dt", { text: t("source") }), el("dd", { text: sourceText(obj.table, obj.line) })] : [];
    return el("dl", { class: "props" }, source, entries.flatMap(([k, v]) => [el("dt", { text: fieldName(k) }), el("dd", {}, valueNode(v, k))]));
  }

  function recordsTable(records) {
    const keys = [];
    for (const r of records) for (const k of Object.keys(r)) if (!["_table", "_line", "table", "line"].includes(k) && !keys.includes(k) && shownKey(r, k)) keys.push(k);
    const hasSource = records.some((r) => r.table || r._table);
    const columns = keys.map((k) => ({
      title: fieldName(k),
      cell: (r) => valueNode(r[k], k),
      numeric: records.every((r) => r[k] === undefined || r[k] === null || typeof r[k] === "number"),
    }));
    if (hasSource) columns.unshift({ title: t("source"), cell: (r) => sourceText(r.table || r._table, r.line ?? r._line) });
    return RG.table(columns, records);
  }

  /* One evidence list: a page of records and, when the flag holds more, "50 of 53" and paging. */
  function recordSection(key, first, total) {
    const wrap = el("div", { class: "ev-section", "data-section": key });
    const status = el("p", { class: "ev-count", "aria-live": "polite" });
    const body = el("div");
    const prev = el("button", { type: "button", class: "btn", text: t("prev_records") });
    const next = el("button", { type: "button", class: "btn", text: t("more_records") });
    const pager = el("div", { class: "ev-pager" }, prev, status, next);
    const page = first.length || 50;
    let offset = 0;
    function show(items) {
      body.replaceChildren(recordsTable(items));
      const a = total ? offset + 1 : 0;
      const b = offset + items.length;
      status.textContent = total > items.length || offset ? t("shown_of", { total: num(total, 0), a: num(a, 0), b: num(b, 0) }) : t("all_shown", { total: num(total, 0) });
      prev.hidden = next.hidden = total <= page;
      prev.disabled = offset <= 0;
      next.disabled = b >= total;
    }
    async function go(newOffset) {
      prev.disabled = next.disabled = true;
      try {
        const data = await api("/api/v1/flags/" + encodeURIComponent(flagId) + "/evidence/" + encodeURIComponent(key) + "?offset=" + newOffset + "&limit=" + page);
        offset = data.offset;
        show(data.items);
      } catch (err) {
        RG.showError(body, err);
      }
    }
    prev.addEventListener("click", () => go(Math.max(0, offset - page)));
    next.addEventListener("click", () => go(offset + page));
    show(first);
    wrap.append(el("h3", { text: fieldName(key) }), pager, body);
    return wrap;
  }

  function renderEvidence(evidence, totals) {
    const box = document.getElementById("evidence");
    const scalars = [];
    const sections = [];
    for (const [key, value] of Object.entries(evidence || {})) {
      if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        sections.push(recordSection(key, value, totals[key] ?? value.length));
      } else if (Array.isArray(value) && value.length && !value.every(isScalar)) {
        sections.push(el("h3", { text: fieldName(key) }), valueNode(value, key));
      } else if (Array.isArray(value) && value.length > 1 && SEQUENCE_KEYS.has(key)) {
        sections.push(el("h3", { text: fieldName(key) }), el("p", {}, valueNode(value, key)));
      } else if (value && typeof value === "object" && !Array.isArray(value)) {
        sections.push(el("h3", { text: fieldName(key) }), propsList(value));
      } else if (!(Array.isArray(value) && !value.length)) {
        scalars.push({ k: key, v: value });
      }
    }
    if (scalars.length) {
      sections.unshift(el("h3", { text: t("figures") }),
        RG.table([{ title: t("property"), cell: (r) => fieldName(r.k) }, { title: t("value"), cell: (r) => valueNode(r.v, r.k) }], scalars));
    }
    box.replaceChildren(...(sections.length ? sections : [el("p", { text: t("none") })]));
  }

  function renderHead(flag) {
    const head = document.getElementById("flag-head");
    const meaning = RG.scoreText(flag.detector);
    head.replaceChildren(
      el("h1", { text: detectorTitle(flag.detector) }),
      el("p", { class: "meta" },
        severityBadge(flag.severity), " ", statusBadge(flag.status), " ",
        t("col_score") + " ", RG.scoreCell(flag), " · ", t("col_region") + " " + (regionLabel(flag.region_code) || "—"),
        " · ", t("col_subject") + " ", known.has(flag.subject_id) ? entityNode(flag.subject_id) : el("code", { text: flag.subject_id })),
      meaning ? el("p", { class: "note score-meaning" }, t("score_meaning") + (cfg.lang === "zh" ? "（" + meaning.replace("：", "）：") : " (" + meaning.replace(": ", "): "))) : null,
      el("p", { class: "meta muted" }, t("flag_id") + " ", el("code", { text: flag.flag_id }), " · " + t("detector_code") + " ", el("code", { text: flag.detector }))
    );
    document.title = detectorTitle(flag.detector) + " · riskgraph";
  }

  function renderHistory(reviews) {
    const list = document.getElementById("history");
    if (!reviews.length) {
      list.replaceChildren(el("li", { class: "muted", text: t("no_history") }));
      return;
    }
    list.replaceChildren(...reviews.slice().reverse().map((r) =>
      el("li", {}, statusBadge(r.decision), " ", el("strong", { text: r.user_name }), " · ", el("time", { datetime: r.created_at, text: when(r.created_at) }),
        r.comment ? el("p", { class: "comment", text: r.comment }) : null)));
  }

  let graph = null;

  function setupHighlight(flag) {
    const select = document.getElementById("g-highlight");
    const ids = new Set(graph.cy.nodes().map((n) => n.data("eid")));
    const paths = window.RGGraph.candidatePaths(flag.evidence, ids);
    select.replaceChildren(el("option", { value: "" }, t("highlight_none")),
      ...paths.map((p, i) => el("option", { value: String(i) }, t("path_n", { key: fieldName(p.key), n: p.ids.length }))));
    select.addEventListener("change", () => {
      const p = paths[Number(select.value)];
      graph.highlight(p ? p.ids : null, p ? p.closed : false);
    });
    if (paths.length) {
      select.value = "0";
      graph.highlight(paths[0].ids, paths[0].closed);
    }
  }

  async function load() {
    let flag;
    try {
      flag = await api("/api/v1/flags/" + encodeURIComponent(flagId));
    } catch (err) {
      RG.showError(document.getElementById("explanation"), err);
      return;
    }
    known = new Map(flag.subgraph.nodes.map((n) => [n.id, { label: n.label, name: (n.properties || {}).name || null }]));
    renderHead(flag);
    document.getElementById("explanation").textContent = (flag.explanation || {})[cfg.lang] || (flag.explanation || {}).en || "";
    const masked = JSON.stringify(flag.explanation).includes("*") || flag.subgraph.nodes.some((n) => (n.masked || []).length);
    document.getElementById("masked-note").hidden = !masked;
    renderEvidence(flag.evidence, flag.evidence_totals || {});
    renderHistory(flag.reviews || []);
    graph = window.RGGraph.create({
      container: document.getElementById("cy"),
      subgraph: flag.subgraph,
      focus: flag.entities,
      evidence: flag.evidence,
      detector: flag.detector,
      legend: document.getElementById("legend"),
      details: document.getElementById("selected"),
      nodeList: document.getElementById("g-nodes"),
      expandButton: document.getElementById("g-expand"),
      fitButton: document.getElementById("g-fit"),
      contextButton: document.getElementById("g-context"),
    });
    setupHighlight(flag);
    document.getElementById("graph-truncated").hidden = !flag.subgraph.truncated;
    return flag;
  }

  document.getElementById("decision-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const msg = document.getElementById("decision-msg");
    const choice = form.elements.decision.value;
    if (!choice) {
      msg.className = "error-msg";
      msg.textContent = t("choose_decision");
      return;
    }
    const button = document.getElementById("submit-decision");
    button.disabled = true;
    try {
      await api("/api/v1/flags/" + encodeURIComponent(flagId) + "/reviews", {
        method: "POST", body: { decision: choice, comment: form.elements.comment.value },
      });
      msg.className = "notice";
      msg.textContent = t("decision_saved");
      form.reset();
      const reviews = await api("/api/v1/flags/" + encodeURIComponent(flagId) + "/reviews");
      renderHistory(reviews);
      const head = document.querySelector("#flag-head .badge.st-open, #flag-head .badge[class*='st-']");
      if (head) head.replaceWith(statusBadge(choice));
    } catch (err) {
      msg.className = "error-msg";
      msg.textContent = t("decision_failed") + err.message;
    } finally {
      button.disabled = false;
    }
  });

  load();
})();

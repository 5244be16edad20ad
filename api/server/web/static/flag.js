/* One flag on one screen: why it was flagged, the source records, the graph, the decision. */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, num, when, severityBadge, statusBadge, detectorTitle, entityLink, cfg } = RG;
  const flagId = cfg.flag_id;
  const KEY_NAMES = {
    zh: { payments: "发放记录", assets: "资产", records: "原始记录", figures: "指标", household: "农户",
      holder: "账户持有人", prison_terms: "服刑记录", insurance: "社保记录", paths: "关系路径",
      contributions: "异常贡献", members: "成员", guarantees: "担保", guarantee: "担保", loan: "贷款",
      project: "项目", debtor: "债务人", guarantor: "担保人", flow: "资金往来", flows: "资金往来",
      occurrences: "资金循环", control_path: "控制链", controller: "控制人", recipient: "收款方",
      region: "区划", death_records: "死亡记录", payroll: "工资记录", vehicles: "车辆", properties: "房产", hits: "受波及企业", stress: "压力测试", central_firms: "核心企业",
      shared_attributes: "共同特征", top_hidden_debt: "主要隐性债务", debt: "债务", revenue: "财力" },
    en: {},
  };

  function keyName(key) {
    return (KEY_NAMES[cfg.lang] || {})[key] || key;
  }

  function valueNode(value, known) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return num(value);
    if (typeof value === "boolean") return value ? t("yes") : t("no");
    if (typeof value === "string") {
      const label = known.get(value);
      return label ? entityLink(value, label) : value;
    }
    if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) {
      return el("span", {}, value.flatMap((v, i) => (i ? [", ", valueNode(v, known)] : [valueNode(v, known)])));
    }
    return el("code", { class: "json", text: JSON.stringify(value) });
  }

  function sourceOf(rec) {
    const table = rec._table || rec.table;
    const line = rec._line || rec.line;
    return table ? table + (line ? ":" + line : "") : "";
  }

  function recordsTable(records, known) {
    const keys = [];
    for (const r of records) for (const k of Object.keys(r)) if (!["_table", "_line", "table", "line"].includes(k) && !keys.includes(k)) keys.push(k);
    const hasSource = records.some((r) => sourceOf(r));
    const columns = keys.map((k) => ({ title: keyName(k), cell: (r) => valueNode(r[k], known), numeric: records.every((r) => r[k] === undefined || r[k] === null || typeof r[k] === "number") }));
    if (hasSource) columns.unshift({ title: t("source"), cell: (r) => el("code", { text: sourceOf(r) }) });
    return RG.table(columns, records);
  }

  function renderEvidence(evidence, known) {
    const box = document.getElementById("evidence");
    const scalars = [];
    const sections = [];
    for (const [key, value] of Object.entries(evidence || {})) {
      if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        sections.push(el("h3", { text: keyName(key) + " (" + value.length + ")" }), recordsTable(value, known));
      } else if (value && typeof value === "object" && !Array.isArray(value)) {
        const flat = Object.values(value).every((v) => v === null || typeof v !== "object" || Array.isArray(v));
        if (flat) sections.push(el("h3", { text: keyName(key) }), recordsTable([value], known));
        else sections.push(el("h3", { text: keyName(key) }), el("code", { class: "json", text: JSON.stringify(value) }));
      } else {
        scalars.push({ k: key, v: value });
      }
    }
    if (scalars.length) {
      sections.unshift(el("h3", { text: t("figures") }),
        RG.table([{ title: t("property"), cell: (r) => keyName(r.k) }, { title: t("value"), cell: (r) => valueNode(r.v, known) }], scalars));
    }
    box.replaceChildren(...(sections.length ? sections : [el("p", { text: t("none") })]));
  }

  function renderHead(flag) {
    const head = document.getElementById("flag-head");
    head.replaceChildren(
      el("h1", { text: detectorTitle(flag.detector) }),
      el("p", { class: "meta" },
        severityBadge(flag.severity), " ", statusBadge(flag.status), " ",
        t("col_score") + " " + num(flag.score), " · ", t("col_region") + " " + (flag.region_code || "—"),
        " · ", t("col_subject") + " ", el("code", { text: flag.subject_id }),
        " · ", el("code", { class: "muted", text: flag.detector + " · " + flag.flag_id }))
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
    const known = new Set(graph.cy.nodes().map((n) => n.data("eid")));
    const paths = window.RGGraph.candidatePaths(flag.evidence, known);
    select.replaceChildren(el("option", { value: "" }, t("highlight_none")),
      ...paths.map((p, i) => el("option", { value: String(i) }, t("path_n", { key: keyName(p.key), n: p.ids.length }))));
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
    renderHead(flag);
    document.getElementById("explanation").textContent = (flag.explanation || {})[cfg.lang] || (flag.explanation || {}).en || "";
    const masked = JSON.stringify(flag.explanation).includes("*") || flag.subgraph.nodes.some((n) => (n.masked || []).length);
    document.getElementById("masked-note").hidden = !masked;
    const known = new Map(flag.subgraph.nodes.map((n) => [n.id, n.label]));
    renderEvidence(flag.evidence, known);
    renderHistory(flag.reviews || []);
    graph = window.RGGraph.create({
      container: document.getElementById("cy"),
      subgraph: flag.subgraph,
      focus: flag.entities,
      legend: document.getElementById("legend"),
      details: document.getElementById("selected"),
      nodeList: document.getElementById("g-nodes"),
      expandButton: document.getElementById("g-expand"),
      fitButton: document.getElementById("g-fit"),
    });
    setupHighlight(flag);
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

/* Regional debt and guarantee risk for debt analysts: debt ratio by county (statutory and hidden
 * debt against the warning lines), guarantee circles, most systemic firms, flags by county. */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, num, wan, pct, flagLink, entityLink, regionLabel, familyTitle, cfg } = RG;
  const C = window.RGCharts;
  const FAMILY_COLOURS = { debt: "#12386b", guarantee: "#c25400", ownership: "#5b5fc7", aid: "#2e8b3a" };

  function scopeOptions(data, selected) {
    const select = document.getElementById("d-region");
    const codes = new Set(cfg.user.regions.filter((c) => c !== "000000"));
    for (const c of data.counties) codes.add(c.code);
    for (const c of Object.keys(data.flag_counts)) if (c !== "None" && !c.endsWith("00")) codes.add(c);
    select.replaceChildren(el("option", { value: "" }, t("all")),
      ...[...codes].sort().map((c) => el("option", { value: c, selected: c === selected }, regionLabel(c, Object.assign({}, data.region_names, Object.fromEntries(data.counties.map((x) => [x.code, x.name])))))));
  }

  function renderRatio(data) {
    const flagged = data.counties.filter((c) => c.ratio !== null);
    const chart = document.getElementById("ratio-chart");
    if (flagged.length) {
      const lines = flagged[0].lines || { warn: 1.2, high: 2.0, red: 3.0 };
      C.bars(chart, flagged.map((c) => ({
        label: c.name || c.code,
        segments: [
          { value: c.statutory / c.resources * 100, color: "#12386b", name: t("statutory_debt") },
          { value: c.hidden / c.resources * 100, color: "#e8a33d", name: t("hidden_debt") },
        ],
      })), {
        title: t("debt_ratio_title"), format: (v) => num(v, 1) + "%",
        lines: Object.values(lines).map((v) => ({ value: v * 100, label: num(v * 100, 0) + "%" })),
      });
      C.legend(chart, [{ name: t("statutory_debt"), color: "#12386b" }, { name: t("hidden_debt"), color: "#e8a33d" }]);
    } else {
      chart.replaceChildren(el("p", { class: "muted", text: t("no_data") }));
    }
    document.getElementById("ratio-table").replaceChildren(RG.table([
      { title: t("county"), cell: (c) => regionLabel(c.code, c.name ? { [c.code]: c.name } : {}) },
      { title: t("debt_ratio"), cell: (c) => (c.ratio === null ? el("span", { class: "muted", text: t("below_warning") }) : pct(c.ratio)), numeric: true },
      { title: t("grade"), cell: (c) => (c.grade ? el("span", { class: "badge grade-" + c.grade, text: t("grade_" + c.grade) }) : "") },
      { title: t("statutory_debt"), cell: (c) => wan(c.statutory), numeric: true },
      { title: t("hidden_debt"), cell: (c) => wan(c.hidden), numeric: true },
      { title: t("resources"), cell: (c) => wan(c.resources), numeric: true },
      { title: t("col_open"), cell: (c) => (c.flag_id ? flagLink(c.flag_id, t("col_open")) : "") },
    ], data.counties));
  }

  function renderCircles(data) {
    const rows = data.circles.slice().sort((a, b) => (b.total_guaranteed || 0) - (a.total_guaranteed || 0));
    const chart = document.getElementById("circles-chart");
    if (rows.length) {
      C.bars(chart, rows.slice(0, 12).map((c) => ({
        label: (c.central_firm || c.circle),
        segments: [{ value: (c.total_guaranteed || 0) / 10000, color: "#c25400", name: t("total_guaranteed") }],
      })), { title: t("circles_title") + " · " + t("total_guaranteed"), format: (v) => num(v, 0), width: 520, labelWidth: 200 });
    } else chart.replaceChildren(el("p", { class: "muted", text: t("no_data") }));
    document.getElementById("circles-table").replaceChildren(RG.table([
      { title: t("central_firm"), cell: (c) => flagLink(c.flag_id, c.central_firm || c.circle) },
      { title: t("col_region"), cell: (c) => regionLabel(c.region_code, data.region_names) },
      { title: t("members"), cell: (c) => num(c.size, 0), numeric: true },
      { title: t("guarantees_n"), cell: (c) => num(c.guarantee_count, 0), numeric: true },
      { title: t("total_guaranteed"), cell: (c) => wan(c.total_guaranteed), numeric: true },
      { title: t("leverage"), cell: (c) => pct(c.leverage), numeric: true },
    ], rows));
  }

  function renderSystemic(data) {
    const chart = document.getElementById("systemic-chart");
    if (data.systemic.length) {
      C.bars(chart, data.systemic.map((s) => ({
        label: s.name || s.id,
        segments: [{ value: (s.debtrank || 0) * 100, color: "#5b5fc7", name: t("debtrank") }],
      })), { title: t("systemic_title"), format: (v) => num(v, 2) + "%", width: 520, labelWidth: 200 });
    } else chart.replaceChildren(el("p", { class: "muted", text: t("no_data") }));
    document.getElementById("systemic-table").replaceChildren(RG.table([
      { title: t("firm"), cell: (s) => entityLink(s.id, "Enterprise", s.name || s.id) },
      { title: t("debtrank"), cell: (s) => pct(s.debtrank), numeric: true },
      { title: t("firms_hit"), cell: (s) => num(s.firms_hit, 0), numeric: true },
      { title: t("expected_loss"), cell: (s) => wan(s.expected_loss), numeric: true },
      { title: t("col_open"), cell: (s) => flagLink(s.flag_id, t("col_open")) },
    ], data.systemic));
  }

  function renderDetectors(data) {
    const rows = Object.entries(data.by_detector).sort((a, b) => ((b[1].high || 0) - (a[1].high || 0)) || a[0].localeCompare(b[0]));
    document.getElementById("detector-table").replaceChildren(rows.length ? RG.table([
      { title: t("col_detector"), cell: (r) => el("a", { href: "/web/flags?detector=" + encodeURIComponent(r[0]), text: RG.detectorTitle(r[0]) }) },
      ...["high", "medium", "low"].map((s) => ({ title: t("sev_" + s), cell: (r) => num(r[1][s] || 0, 0), numeric: true })),
    ], rows) : el("p", { class: "muted", text: t("no_data") }));
    const statuses = ["open", "needs_field_check", "confirmed", "dismissed"].map((s) => [s, data.by_status[s] || 0]);
    document.getElementById("status-table").replaceChildren(RG.table([
      { title: t("col_status"), cell: (r) => RG.statusBadge(r[0]) },
      { title: t("count"), cell: (r) => num(r[1], 0), numeric: true },
    ], statuses));
  }

  function renderCounts(data) {
    const families = data.families.length ? data.families : ["aid"];
    const rows = Object.entries(data.flag_counts).filter(([code]) => code !== "None").sort((a, b) => a[0].localeCompare(b[0]));
    const chart = document.getElementById("counts-chart");
    if (rows.length) {
      C.bars(chart, rows.map(([code, c]) => ({
        label: regionLabel(code, data.region_names),
        segments: families.map((f) => ({ value: c[f] || 0, color: FAMILY_COLOURS[f], name: familyTitle(f) })),
      })), { title: t("flags_by_county"), format: (v) => num(v, 0) });
      C.legend(chart, families.map((f) => ({ name: familyTitle(f), color: FAMILY_COLOURS[f] })));
    } else chart.replaceChildren(el("p", { class: "muted", text: t("no_data") }));
    document.getElementById("counts-table").replaceChildren(RG.table([
      { title: t("county"), cell: (r) => regionLabel(r[0], data.region_names) },
      ...families.map((f) => ({ title: familyTitle(f), cell: (r) => num(r[1][f] || 0, 0), numeric: true })),
    ], rows));
  }

  async function load() {
    const region = new URLSearchParams(location.search).get("region") || "";
    try {
      const data = await api("/web/api/dashboard" + (region ? "?region=" + encodeURIComponent(region) : ""));
      scopeOptions(data, region);
      renderCounts(data);
      renderDetectors(data);
      for (const s of document.querySelectorAll(".debt-only")) s.hidden = !data.debt;
      if (data.debt) {
        renderRatio(data);
        renderCircles(data);
        renderSystemic(data);
      }
    } catch (err) {
      RG.showError(document.getElementById("counts-chart"), err);
    }
  }

  document.getElementById("scope-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = document.getElementById("d-region").value;
    history.pushState(null, "", location.pathname + (v ? "?region=" + encodeURIComponent(v) : ""));
    load();
  });
  window.addEventListener("popstate", load);
  load();
})();

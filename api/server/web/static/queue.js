/* The flag queue: filters with counts, sort, paging, report and Excel downloads. */
(function () {
  "use strict";
  const { t, el, api, num, severityBadge, statusBadge, detectorTitle, regionLabel, flagLink, cfg } = window.RG;
  const PAGE = 25;
  const FIELDS = ["detector", "region", "severity", "status", "since", "until", "sort"];
  const form = document.getElementById("filters");
  const tbody = document.querySelector("#queue tbody");
  const count = document.getElementById("result-count");
  let offset = 0;
  const picked = new Set();
  const caseForm = document.getElementById("case-from-queue");

  function renderCaseBar() {
    caseForm.hidden = picked.size === 0;
    document.getElementById("selected-count").textContent = t("selected_n", { n: picked.size });
  }

  caseForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = document.getElementById("case-msg");
    const title = document.getElementById("new-case-title").value.trim();
    if (!title) return;
    try {
      const c = await api("/api/v1/cases", { method: "POST", body: { title, flag_ids: [...picked] } });
      location.assign("/web/cases/" + c.id);
    } catch (err) {
      msg.className = "error-msg";
      msg.textContent = t("error_loading") + ": " + err.message;
    }
  });

  function current() {
    const params = new URLSearchParams(location.search);
    const out = {};
    for (const f of FIELDS) if (params.get(f)) out[f] = params.get(f);
    offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    return out;
  }

  function query(filters, extra) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return params.toString();
  }

  function fillSelect(select, options, selected) {
    select.replaceChildren(
      ...options.map(([value, label]) => el("option", { value, selected: value === (selected || "") }, label))
    );
  }

  function withCount(label, n) {
    return label + " (" + num(n || 0, 0) + ")";
  }

  function total(facet) {
    return Object.values(facet || {}).reduce((a, b) => a + b, 0);
  }

  function renderFilters(filters, data) {
    const f = data.facets;
    const detectors = Object.keys(f.detector).sort((a, b) => detectorTitle(a).localeCompare(detectorTitle(b)));
    if (filters.detector && !detectors.includes(filters.detector)) detectors.push(filters.detector);
    fillSelect(document.getElementById("f-detector"),
      [["", withCount(t("all"), total(f.detector))],
       ...detectors.map((d) => [d, withCount(detectorTitle(d), f.detector[d])])], filters.detector);
    const regions = new Set([...Object.keys(f.region).filter((c) => c !== "None"), ...cfg.user.regions]);
    regions.delete("000000");
    if (filters.region) regions.add(filters.region);
    fillSelect(document.getElementById("f-region"),
      [["", withCount(t("all"), total(f.region))],
       ...[...regions].sort().map((c) => [c, withCount(regionLabel(c, data.region_names), f.region[c])])],
      filters.region);
    fillSelect(document.getElementById("f-severity"),
      [["", withCount(t("all"), total(f.severity))],
       ...["high", "medium", "low"].map((s) => [s, withCount(t("sev_" + s), f.severity[s])])], filters.severity);
    fillSelect(document.getElementById("f-status"),
      [["", withCount(t("all"), total(f.status))],
       ...["open", "confirmed", "dismissed", "needs_field_check"].map((s) => [s, withCount(t("status_" + s), f.status[s])])],
      filters.status);
    document.getElementById("f-since").value = filters.since || "";
    document.getElementById("f-until").value = filters.until || "";
    document.getElementById("f-sort").value = filters.sort || "score_desc";
  }

  function renderFacets(data) {
    const box = document.getElementById("facets");
    const chips = [];
    for (const s of ["high", "medium", "low"]) {
      if (data.facets.severity[s]) chips.push(el("span", { class: "chip sev-" + s }, t("sev_" + s) + " " + num(data.facets.severity[s], 0)));
    }
    for (const s of ["open", "confirmed", "dismissed", "needs_field_check"]) {
      if (data.facets.status[s]) chips.push(el("span", { class: "chip st-" + s }, t("status_" + s) + " " + num(data.facets.status[s], 0)));
    }
    box.replaceChildren(el("span", { class: "sr-only", text: t("counts_by") }), ...chips);
  }

  function renderRows(data) {
    if (!data.items.length) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: 7, text: t("no_results") })));
      return;
    }
    tbody.replaceChildren(...data.items.map((f) => {
      const text = (f.explanation || {})[cfg.lang] || (f.explanation || {}).en || f.subject_id;
      const box = el("input", { type: "checkbox", class: "pick", value: f.flag_id, "aria-label": t("select_flag_n", { id: f.flag_id }), checked: picked.has(f.flag_id) });
      box.addEventListener("change", () => { if (box.checked) picked.add(f.flag_id); else picked.delete(f.flag_id); renderCaseBar(); });
      return el("tr", { "data-flag": f.flag_id },
        el("td", {}, box),
        el("td", {}, severityBadge(f.severity)),
        el("td", { class: "n" }, window.RG.scoreCell(f)),
        el("td", { text: detectorTitle(f.detector) }),
        el("td", { text: regionLabel(f.region_code, data.region_names) }),
        el("td", { class: "expl" }, flagLink(f.flag_id, text)),
        el("td", {}, statusBadge(f.status)));
    }));
  }

  function renderPager(data) {
    const a = data.total ? data.offset + 1 : 0;
    const b = Math.min(data.offset + data.items.length, data.total);
    document.getElementById("page-range").textContent = t("page_of", { a, b });
    document.getElementById("prev").disabled = data.offset <= 0;
    document.getElementById("next").disabled = data.offset + data.items.length >= data.total;
  }

  async function load() {
    const filters = current();
    const qs = query(filters, { lang: cfg.lang });
    document.getElementById("dl-report").href = "/web/report.html?" + qs;
    document.getElementById("dl-xlsx").href = "/web/export.xlsx?" + qs;
    document.getElementById("dl-csv").href = "/web/export.csv?" + qs;
    document.getElementById("dl-pdf").href = "/web/report.pdf?" + qs;
    count.textContent = t("loading");
    try {
      const data = await api("/web/api/flags?" + query(filters, { limit: PAGE, offset }));
      renderFilters(filters, data);
      renderFacets(data);
      renderRows(data);
      renderPager(data);
      count.textContent = t("results", { n: num(data.total, 0) });
    } catch (err) {
      count.textContent = t("error_loading") + ": " + err.message;
    }
  }

  function go(filters, newOffset) {
    const qs = query(filters, newOffset ? { offset: newOffset } : {});
    history.pushState(null, "", location.pathname + (qs ? "?" + qs : ""));
    load();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const filters = {};
    for (const f of FIELDS) {
      const v = form.elements[f].value;
      if (v && !(f === "sort" && v === "score_desc")) filters[f] = v;
    }
    go(filters, 0);
  });
  document.getElementById("reset").addEventListener("click", () => go({}, 0));
  document.getElementById("prev").addEventListener("click", () => go(current(), Math.max(0, offset - PAGE)));
  document.getElementById("next").addEventListener("click", () => go(current(), offset + PAGE));
  window.addEventListener("popstate", load);
  load();
})();

/* Scans (admin): start one through the API and watch its progress (stage, rows read, detectors
 * done of all), refreshed every two seconds while one runs. */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, when, num, tableName } = RG;
  let timer = null;

  function progressText(s) {
    const p = s.progress;
    if (!p) return "";
    const stage = t("scan_stage_" + p.stage) !== "scan_stage_" + p.stage ? t("scan_stage_" + p.stage) : "";
    if (p.stage === "load") {
      const rows = Object.entries(p.tables || {}).map(([k, n]) => tableName(k) + " " + num(n, 0));
      return stage + (rows.length ? "：" + rows.slice(-3).join("，") : "");
    }
    if (p.stage === "detect") {
      return stage + " " + num(p.detectors_done, 0) + "/" + num(p.detectors_total, 0) + (p.current ? " · " + RG.detectorTitle(p.current) : "");
    }
    return stage;
  }

  function bar(s) {
    const p = s.progress;
    if (!p || s.status !== "running") return null;
    const share = p.stage === "load" ? 0.1 : p.stage === "detect" ? 0.1 + 0.8 * (p.detectors_done / Math.max(1, p.detectors_total)) : 0.95;
    return el("progress", { max: "100", value: String(Math.round(share * 100)), "aria-label": t("scan_progress") });
  }

  async function load() {
    const box = document.getElementById("scans");
    try {
      const items = await api("/api/v1/scans");
      const data = { items };
      box.replaceChildren(RG.table([
        { title: t("scan_id"), cell: (s) => String(s.id), numeric: true },
        { title: t("scan_source"), cell: (s) => t("scan_source_" + s.source) },
        { title: t("scan_status"), cell: (s) => el("span", { class: "badge scan-" + s.status, text: t("scan_status_" + s.status) }) },
        { title: t("scan_progress"), cell: (s) => el("span", {}, bar(s), " ", progressText(s)) },
        { title: t("scan_dataset"), cell: (s) => s.dataset_dir || s.out_dir },
        { title: t("scan_started"), cell: (s) => when(s.started_at || s.created_at) },
        { title: t("scan_finished"), cell: (s) => when(s.finished_at) },
        { title: t("scan_flags"), cell: (s) => (s.flags_imported === null ? "" : num(s.flags_imported, 0)), numeric: true },
        { title: t("scan_error"), cell: (s) => s.error || "" },
      ], data.items));
      clearTimeout(timer);
      if (data.items.some((s) => s.status === "queued" || s.status === "running")) timer = setTimeout(load, 2000);
    } catch (err) {
      RG.showError(box, err);
    }
  }

  document.getElementById("scan-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = document.getElementById("scan-msg");
    try {
      await api("/api/v1/scans", { method: "POST", body: { dataset_dir: document.getElementById("scan-dataset").value } });
      msg.textContent = "";
      load();
    } catch (err) {
      msg.className = "error-msg";
      msg.textContent = t("decision_failed") + err.message;
    }
  });
  load();
})();

/* Cases: the list with a status filter, a new case, and one case: its flags, status, assignee
 * and comment thread. */
(function () {
  "use strict";
  const RG = window.RG;
  const { t, el, api, when, cfg, severityBadge, statusBadge, detectorTitle, flagLink, regionLabel } = RG;

  function caseStatus(s) {
    return el("span", { class: "badge case-" + s, text: t("case_status_" + s) });
  }

  async function listPage() {
    const box = document.getElementById("cases");
    const status = new URLSearchParams(location.search).get("status") || "";
    document.getElementById("c-status").value = status;
    try {
      const data = await api("/api/v1/cases?limit=200" + (status ? "&status=" + encodeURIComponent(status) : ""));
      box.replaceChildren(data.items.length ? RG.table([
        { title: t("case_name"), cell: (c) => el("a", { href: "/web/cases/" + c.id, text: c.title }) },
        { title: t("case_status"), cell: (c) => caseStatus(c.status) },
        { title: t("case_region"), cell: (c) => regionLabel(c.region_code) },
        { title: t("case_assignee"), cell: (c) => c.assignee || el("span", { class: "muted", text: t("case_unassigned") }) },
        { title: t("case_flags"), cell: (c) => String(c.flag_ids.length), numeric: true },
        { title: t("case_updated"), cell: (c) => when(c.updated_at) },
      ], data.items) : el("p", { class: "muted", text: t("case_none") }));
    } catch (err) {
      RG.showError(box, err);
    }
    const region = document.getElementById("nc-region");
    const codes = cfg.user.regions.length ? cfg.user.regions : ["000000"];
    region.replaceChildren(...codes.map((c) => el("option", { value: c }, c === "000000" ? t("scope_national") : regionLabel(c))));
    document.getElementById("case-filter").addEventListener("submit", (e) => {
      e.preventDefault();
      const v = document.getElementById("c-status").value;
      location.assign("/web/cases" + (v ? "?status=" + encodeURIComponent(v) : ""));
    });
    document.getElementById("new-case").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.currentTarget.elements;
      try {
        const c = await api("/api/v1/cases", { method: "POST", body: { title: f.title.value, description: f.description.value, region_code: f.region_code.value } });
        location.assign("/web/cases/" + c.id);
      } catch (err) {
        const msg = document.getElementById("nc-msg");
        msg.className = "error-msg";
        msg.textContent = t("error_loading") + ": " + err.message;
      }
    });
  }

  async function casePage() {
    const id = cfg.case_id;
    const base = "/api/v1/cases/" + encodeURIComponent(id);
    let current = null;

    async function renderFlags(c) {
      const box = document.getElementById("case-flags");
      if (!c.flag_ids.length) {
        box.replaceChildren(el("p", { class: "muted", text: t("none") }));
        return;
      }
      const rows = [];
      for (const fid of c.flag_ids) {
        try {
          rows.push(await api("/api/v1/flags/" + encodeURIComponent(fid)));
        } catch (err) {
          rows.push({ flag_id: fid, error: err.message });
        }
      }
      box.replaceChildren(RG.table([
        { title: t("col_severity"), cell: (f) => (f.severity ? severityBadge(f.severity) : "") },
        { title: t("col_detector"), cell: (f) => (f.detector ? detectorTitle(f.detector) : "") },
        { title: t("col_explanation"), cell: (f) => flagLink(f.flag_id, (f.explanation || {})[cfg.lang] || f.flag_id) },
        { title: t("col_status"), cell: (f) => (f.status ? statusBadge(f.status) : "") },
        { title: "", cell: (f) => el("button", { type: "button", class: "btn btn-quiet", text: t("case_remove_flag"), onclick: () => patch({ remove_flags: [f.flag_id] }) }) },
      ], rows));
    }

    function renderHead(c) {
      document.getElementById("case-head").replaceChildren(
        el("h1", { text: c.title }),
        el("p", { class: "meta" }, caseStatus(c.status), " · " + t("case_region") + " " + regionLabel(c.region_code),
          " · " + t("case_assignee") + " " + (c.assignee || t("case_unassigned")),
          " · " + t("case_created_by") + " " + c.created_by + " · " + when(c.created_at)),
        c.description ? el("p", { class: "explanation", text: c.description }) : null);
      document.title = c.title + " · riskgraph";
      document.getElementById("ce-status").value = c.status;
      document.getElementById("ce-description").value = c.description || "";
      document.getElementById("ce-assignee").value = c.assignee || "";
    }

    async function renderThread() {
      const list = document.getElementById("thread");
      const comments = await api(base + "/comments");
      list.replaceChildren(...(comments.length ? comments.map((m) => el("li", {},
        el("strong", { text: m.author }), " · ", el("time", { datetime: m.created_at, text: when(m.created_at) }),
        el("p", { class: "comment", text: m.body }))) : [el("li", { class: "muted", text: t("case_no_comments") })]));
    }

    async function patch(body) {
      const msg = document.getElementById("ce-msg");
      try {
        current = await api(base, { method: "PATCH", body: Object.assign({ version: current.version }, body) });
        msg.className = "notice";
        msg.textContent = t("case_saved");
        renderHead(current);
        renderFlags(current);
      } catch (err) {
        msg.className = "error-msg";
        msg.textContent = t("decision_failed") + err.message;
      }
    }

    try {
      current = await api(base);
      const names = await api(base + "/assignees");
      document.getElementById("ce-assignee").replaceChildren(el("option", { value: "" }, t("case_unassigned")),
        ...names.map((n) => el("option", { value: n }, n)));
      renderHead(current);
      renderFlags(current);
      renderThread();
    } catch (err) {
      RG.showError(document.getElementById("case-flags"), err);
    }
    document.getElementById("case-edit").addEventListener("submit", (e) => {
      e.preventDefault();
      const f = e.currentTarget.elements;
      patch({ status: f.status.value, assignee: f.assignee.value, description: f.description.value });
    });
    document.getElementById("add-flag").addEventListener("submit", (e) => {
      e.preventDefault();
      const v = document.getElementById("add-flag-id").value.trim();
      if (v) patch({ add_flags: [v] });
    });
    document.getElementById("comment-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = document.getElementById("cc-body");
      const msg = document.getElementById("cc-msg");
      try {
        await api(base + "/comments", { method: "POST", body: { body: body.value } });
        body.value = "";
        msg.textContent = "";
        renderThread();
      } catch (err) {
        msg.className = "error-msg";
        msg.textContent = t("decision_failed") + err.message;
      }
    });
  }

  if (cfg.case_id) casePage();
  else listPage();
})();

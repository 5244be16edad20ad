/* riskgraph web pages: shared helpers (strings, API calls with the CSRF header, DOM building).
 * Data is always put in the page with textContent / attributes, never as HTML. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("rg-config").textContent);
  const S = cfg.strings;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function t(key, vars) {
    let text = Object.prototype.hasOwnProperty.call(S, key) ? S[key] : key;
    for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET", credentials: "same-origin" }, options || {});
    const headers = { Accept: "application/json" };
    if (opts.method !== "GET") {
      headers["X-CSRF-Token"] = csrf;
      if (opts.body !== undefined) {
        headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.body);
      }
    }
    opts.headers = headers;
    const response = await fetch(path, opts);
    if (response.status === 401) {
      window.location.assign("/web/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, "unauthorized", "session ended");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = body.error || {};
      throw new ApiError(response.status, err.code || "error", err.message || response.statusText);
    }
    return body;
  }

  const locale = cfg.lang === "zh" ? "zh-CN" : "en-US";
  function num(value, digits) {
    if (value === null || value === undefined || value === "") return "";
    const d = digits === undefined ? 2 : digits;
    return Number(value).toLocaleString(locale, { maximumFractionDigits: d, minimumFractionDigits: 0 });
  }
  function wan(value) {
    return value === null || value === undefined ? "" : num(Number(value) / 10000, 0);
  }
  function pct(value) {
    return value === null || value === undefined ? "" : num(Number(value) * 100, 1) + "%";
  }
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString(locale, { hour12: false });
  }

  function severityBadge(sev) {
    return el("span", { class: "badge sev-" + sev, text: t("sev_" + sev) });
  }
  function statusBadge(status) {
    return el("span", { class: "badge st-" + status, text: t("status_" + status) });
  }
  function detectorTitle(id) {
    const d = cfg.detectors[id];
    return d ? d[cfg.lang] || d.en || id : id;
  }
  function familyTitle(family) {
    return t("family_" + family);
  }
  function regionLabel(code, names) {
    if (!code) return "";
    const name = (names || {})[code];
    return name ? name + " (" + code + ")" : code;
  }
  function isMasked(id) {
    return String(id).includes("*");
  }
  function entityHref(id, label) {
    return "/web/entities/" + encodeURIComponent(id) + (label ? "?label=" + encodeURIComponent(label) : "");
  }
  function entityLink(id, label, text) {
    if (isMasked(id)) return el("span", { text: text || id });
    return el("a", { href: entityHref(id, label), text: text || id });
  }
  function flagLink(flagId, text) {
    return el("a", { href: "/web/flags/" + encodeURIComponent(flagId), text: text || flagId });
  }

  /* A table from column specs {title, cell: row => Node|string, numeric}. */
  function table(columns, rows, caption) {
    const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.numeric ? "n" : null, text: c.title })));
    const body = rows.map((r) =>
      el("tr", {}, columns.map((c) => {
        const v = c.cell(r);
        return el("td", { class: c.numeric ? "n" : null }, v === null || v === undefined ? "" : v);
      }))
    );
    return el("div", { class: "table-wrap" },
      el("table", { class: "data" }, caption ? el("caption", { text: caption }) : null,
        el("thead", {}, head), el("tbody", {}, body)));
  }

  function showError(target, err) {
    target.replaceChildren(el("p", { class: "error-msg", role: "alert", text: t("error_loading") + ": " + err.message }));
  }

  const switcher = document.getElementById("lang-switch");
  if (switcher) {
    switcher.addEventListener("click", () => {
      document.cookie = "rg_lang=" + switcher.dataset.lang + "; path=/; SameSite=Strict; max-age=31536000";
      const url = new URL(location.href);
      url.searchParams.delete("lang");
      location.assign(url.toString());
    });
  }

  window.RG = {
    cfg, t, el, api, ApiError, num, wan, pct, when, severityBadge, statusBadge, detectorTitle,
    familyTitle, regionLabel, isMasked, entityHref, entityLink, flagLink, table, showError,
  };
})();

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
    if (isNaN(d)) return String(iso);
    try {
      return d.toLocaleString(locale, { hour12: false, timeZone: cfg.timezone || undefined });
    } catch (e) {
      return d.toLocaleString(locale, { hour12: false });
    }
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
  /* What a detector's score measures: "unit：meaning" in the page's language. */
  function scoreText(id) {
    const d = cfg.detectors[id];
    return d ? d["score_" + cfg.lang] || "" : "";
  }
  /* A score with its unit, e.g. "2,804,230 元·月"; the meaning goes in the title attribute. */
  function scoreCell(flag) {
    const text = scoreText(flag.detector);
    const unit = text.split(cfg.lang === "zh" ? "：" : ": ")[0];
    return el("span", { class: "score", title: text }, num(flag.score), unit && unit !== "—" ? el("small", { class: "unit", text: " " + unit }) : null);
  }
  const V = cfg.vocab || {};
  function humanise(key) {
    const text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  /* The data's words: columns, properties and evidence keys; code values; labels; types. */
  function fieldName(key) {
    return (V.fields || {})[key] || (V.tables || {})[key] || (cfg.lang === "zh" ? key : humanise(key));
  }
  function valueName(value) {
    if (typeof value !== "string") return value;
    return (V.values || {})[value] || (V.tables || {})[value] || (V.fields || {})[value] || value;
  }
  function labelName(label) {
    return (V.labels || {})[label] || label;
  }
  function typeName(type) {
    return (V.types || {})[type] || type;
  }
  function tableName(table) {
    return (V.tables || {})[table] || table;
  }
  /* "扶贫资金发放 第12行" / "Aid payments, line 12" */
  function sourceText(table, line) {
    if (!table) return "";
    const name = tableName(table);
    if (line === null || line === undefined || line === "") return name;
    return cfg.lang === "zh" ? name + " 第" + line + "行" : name + ", line " + line;
  }
  function familyTitle(family) {
    return t("family_" + family);
  }
  function regionLabel(code, names) {
    if (!code) return "";
    const name = (names || {})[code] || (cfg.region_names || {})[code];
    if (!name) return code;
    return cfg.lang === "zh" ? name + "（" + code + "）" : name + " (" + code + ")";
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

  /* Search as you type (top bar): names, resident IDs (roles that may see them), credit codes,
   * household and account numbers; from one character for Chinese, two otherwise. */
  function setupSearch() {
    const input = document.getElementById("site-search");
    const list = document.getElementById("site-search-results");
    if (!input || !list) return;
    let timer = null;
    let seq = 0;
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }
    async function run() {
      const q = input.value.trim();
      const cjk = /[\u3400-\u9fff]/.test(q);
      if (!q || (!cjk && q.length < 2)) {
        close();
        return;
      }
      const mine = ++seq;
      let data;
      try {
        data = await api("/web/api/search?q=" + encodeURIComponent(q));
      } catch (err) {
        if (mine !== seq) return;
        list.replaceChildren(el("li", { class: "muted", text: t("error_loading") + ": " + err.message }));
        list.hidden = false;
        return;
      }
      if (mine !== seq) return;
      const items = data.items.map((r) => el("li", { role: "option" },
        isMasked(r.id) ? el("span", { text: r.name || r.id }) :
          el("a", { href: entityHref(r.id, r.label) },
            el("span", { class: "hit-label", text: labelName(r.label) }), " ",
            el("strong", { text: r.name || r.id }), r.name ? el("code", { class: "muted", text: " " + r.id }) : null,
            r.region ? el("span", { class: "muted", text: " · " + regionLabel(r.region) }) : null)));
      if (!items.length) items.push(el("li", { class: "muted", text: t("search_none") }));
      if (data.truncated) items.push(el("li", { class: "muted", text: t("search_more") }));
      list.replaceChildren(...items);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(run, 200);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
      if (e.key === "ArrowDown") {
        const first = list.querySelector("a");
        if (first) {
          e.preventDefault();
          first.focus();
        }
      }
    });
    document.addEventListener("click", (e) => {
      if (!list.contains(e.target) && e.target !== input) close();
    });
  }
  setupSearch();

  window.RG = {
    cfg, t, el, api, ApiError, num, wan, pct, when, severityBadge, statusBadge, detectorTitle,
    familyTitle, regionLabel, isMasked, entityHref, entityLink, flagLink, table, showError,
    scoreText, scoreCell, fieldName, valueName, labelName, typeName, tableName, sourceText,
  };
})();

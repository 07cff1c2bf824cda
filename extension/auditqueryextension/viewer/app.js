// The audit trail viewer: plain browser JavaScript, no build step, no third-party code.
// Every value from the API is put into the page with textContent, never as HTML.
"use strict";

(function () {
  const PAGE = 50;
  const MAX_ROWS = 2000; // live rows beyond this are dropped from the bottom
  const TOKEN_KEY = "auditquery.token";

  const $ = (id) => document.getElementById(id);
  const state = {
    records: new Map(), // id -> record, for the detail view
    cursor: "",
    source: null, // EventSource of the live tail
    paused: false,
    pending: [], // live records received while paused, oldest first
    selected: "",
  };

  // ---- auth ----

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function authHeaders() {
    const t = token();
    return t ? { Authorization: "Bearer " + t } : {};
  }

  async function api(path) {
    const res = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const msg = body && body.error ? body.error.message : res.statusText;
      const err = new Error(res.status + " " + msg);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function showError(err) {
    const box = $("error");
    if (!err) { box.hidden = true; box.textContent = ""; return; }
    box.hidden = false;
    box.textContent = err.status === 401
      ? "Not signed in: paste a token above (" + err.message + ")"
      : String(err.message || err);
  }

  // ---- filters ----

  function filterParams() {
    const form = $("filters");
    const p = new URLSearchParams();
    const levels = [...form.querySelectorAll("input[name=level]:checked")].map((c) => c.value);
    if (levels.length) p.set("level", levels.join(","));
    for (const name of ["min_level", "event", "user_id", "trace_id", "q"]) {
      const v = form.elements[name].value.trim();
      if (v) p.set(name, v);
    }
    return p;
  }

  // ---- list ----

  function fmtTime(ts) {
    const d = new Date(ts);
    if (isNaN(d)) return ts;
    return d.toISOString().replace("T", " ").replace("Z", "");
  }

  function levelBadge(level) {
    const s = document.createElement("span");
    s.className = "lvl lvl-" + level;
    s.textContent = level;
    return s;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? "" : String(text);
    return td;
  }

  function row(rec) {
    state.records.set(rec.id, rec);
    const tr = document.createElement("tr");
    tr.dataset.id = rec.id;
    tr.append(
      cell(fmtTime(rec.timestamp), "time"),
      cell(levelBadge(rec.level)),
      cell(rec.tenant_id),
      cell(rec.event),
      cell(rec.user_id),
      cell(rec.message, "msg"),
    );
    tr.title = rec.message || "";
    if (rec.id === state.selected) tr.classList.add("selected");
    return tr;
  }

  function noticeRow(text) {
    const tr = document.createElement("tr");
    tr.className = "notice";
    const td = cell(text);
    td.colSpan = 6;
    tr.appendChild(td);
    return tr;
  }

  function updateEmpty() {
    $("empty").hidden = $("records").tBodies[0].rows.length > 0;
  }

  async function search() {
    const p = filterParams();
    p.set("limit", String(PAGE));
    const body = await api("/api/v1/logs?" + p);
    const tbody = $("records").tBodies[0];
    tbody.replaceChildren(...body.records.map(row));
    state.cursor = body.next_cursor || "";
    $("load-more").hidden = !state.cursor;
    updateEmpty();
  }

  async function loadMore() {
    if (!state.cursor) return;
    const p = filterParams();
    p.set("limit", String(PAGE));
    p.set("cursor", state.cursor);
    const body = await api("/api/v1/logs?" + p);
    $("records").tBodies[0].append(...body.records.map(row));
    state.cursor = body.next_cursor || "";
    $("load-more").hidden = !state.cursor;
    updateEmpty();
  }

  // ---- live tail (Server-Sent Events; the token rides as access_token since EventSource
  // cannot send headers) ----

  function setLive(text, on) {
    const el = $("live-state");
    el.textContent = "live: " + text;
    el.classList.toggle("on", !!on);
  }

  function prepend(node) {
    const tbody = $("records").tBodies[0];
    tbody.insertBefore(node, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
  }

  function showLive(rec) {
    if (state.records.has(rec.id) && document.querySelector('tr[data-id="' + CSS.escape(rec.id) + '"]')) return;
    const tr = row(rec);
    tr.classList.add("fresh");
    prepend(tr);
    updateEmpty();
  }

  function startLive() {
    stopLive();
    const p = filterParams();
    // The list was read just before: replaying its page closes the gap between that read and
    // the subscription (rows already shown are skipped by showLive). Not with q, which the
    // stream matches as a substring and the list as words, so the two could disagree.
    if (!p.has("q")) p.set("replay", String(PAGE));
    const t = token();
    if (t) p.set("access_token", t);
    const es = new EventSource("/api/v1/stream?" + p);
    state.source = es;
    setLive("connecting");
    es.onopen = () => setLive(state.paused ? "paused" : "on", !state.paused);
    es.onmessage = (ev) => {
      const rec = JSON.parse(ev.data);
      if (state.paused) {
        state.pending.push(rec);
        $("live-pending").textContent = state.pending.length + " new";
        return;
      }
      showLive(rec);
    };
    es.addEventListener("lagged", (ev) => {
      const m = JSON.parse(ev.data);
      prepend(noticeRow(m.skipped + " records were skipped because the viewer fell behind"));
    });
    es.addEventListener("close", (ev) => {
      const m = JSON.parse(ev.data);
      setLive("closed: " + m.reason);
      es.close();
    });
    es.onerror = () => {
      // EventSource retries by itself after a dropped connection; a refused one (401, 429) is
      // final and shows as CLOSED.
      setLive(es.readyState === EventSource.CLOSED ? "off (refused; check the token)" : "reconnecting");
    };
  }

  function stopLive() {
    if (state.source) state.source.close();
    state.source = null;
  }

  function togglePause() {
    state.paused = !state.paused;
    $("live-toggle").textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) {
      for (const rec of state.pending) showLive(rec);
      state.pending = [];
      $("live-pending").textContent = "";
    }
    if (state.source && state.source.readyState === EventSource.OPEN) setLive(state.paused ? "paused" : "on", !state.paused);
  }

  // ---- detail ----

  const DETAIL_FIELDS = [
    "id", "timestamp", "observed_timestamp", "level", "event", "message", "tenant_id", "user_id", "username",
    "actor_id", "entity_type", "entity_id", "company_id", "employee_id", "ip_address", "user_agent",
    "geo_country", "geo_city", "method", "path", "status_code", "duration_ms", "service_name", "scope",
    "trace_id", "span_id", "severity_text", "severity_number", "tags",
  ];

  function showDetail(rec) {
    state.selected = rec.id;
    for (const tr of document.querySelectorAll("#records tbody tr")) tr.classList.toggle("selected", tr.dataset.id === rec.id);
    const dl = $("detail-fields");
    dl.replaceChildren();
    for (const name of DETAIL_FIELDS) {
      let v = rec[name];
      if (v == null || v === "" || v === 0 || (Array.isArray(v) && !v.length)) continue;
      if (Array.isArray(v)) v = v.join(", ");
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    $("detail-attributes").textContent = JSON.stringify(rec.attributes || {}, null, 2);
    $("detail-resource").textContent = JSON.stringify(rec.resource || {}, null, 2);
    const traceBtn = $("show-trace");
    traceBtn.hidden = !rec.trace_id;
    traceBtn.onclick = () => showTrace(rec.trace_id).catch(showError);
    $("detail").hidden = false;
  }

  // ---- trace timeline ----

  async function showTrace(traceID) {
    const body = await api("/api/v1/traces/" + encodeURIComponent(traceID));
    $("trace-id").textContent = body.trace_id;
    const list = $("trace-list");
    list.replaceChildren();
    const recs = body.records;
    const t0 = recs.length ? Date.parse(recs[0].timestamp) : 0;
    const span = recs.length ? Math.max(1, Date.parse(recs[recs.length - 1].timestamp) - t0) : 1;
    for (const rec of recs) {
      state.records.set(rec.id, rec);
      const offset = Date.parse(rec.timestamp) - t0;
      const li = document.createElement("li");
      li.dataset.id = rec.id;
      const off = document.createElement("span");
      off.className = "offset";
      off.textContent = "+" + fmtOffset(offset);
      const lane = document.createElement("span");
      lane.className = "lane";
      const tick = document.createElement("span");
      tick.className = "tick lvl-" + rec.level;
      // Inset so that the first and last dots stay inside the lane.
      tick.style.left = 6 + (offset / span) * 88 + "%";
      lane.appendChild(tick);
      const text = document.createElement("span");
      text.textContent = rec.level + " · " + (rec.event || "") + " · " + (rec.service_name || rec.scope || "") + " · " + (rec.message || "");
      li.append(off, lane, text);
      li.onclick = () => showDetail(rec);
      list.appendChild(li);
    }
    $("trace").hidden = false;
  }

  function fmtOffset(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return (ms / 60000).toFixed(1) + " min";
  }

  // ---- stats ----

  // entries are [label, count] or [label, count, class of the bar].
  function bars(container, entries) {
    container.replaceChildren();
    const maxN = Math.max(1, ...entries.map((e) => e[1]));
    for (const [key, n, cls] of entries) {
      const r = document.createElement("div");
      r.className = "bar-row";
      const k = document.createElement("span");
      k.textContent = key;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill" + (cls ? " " + cls : "");
      fill.style.display = "block";
      fill.style.width = (n / maxN) * 100 + "%";
      track.appendChild(fill);
      const c = document.createElement("span");
      c.className = "n";
      c.textContent = String(n);
      r.append(k, track, c);
      container.appendChild(r);
    }
  }

  async function loadStats() {
    let st;
    try {
      st = await api("/api/v1/stats");
    } catch (err) {
      // A store without statistics (501) or an older server (404): the panel stays hidden.
      $("stats").hidden = true;
      if (err.status === 401 || err.status === 403) throw err;
      return;
    }
    $("stats-total").textContent = st.total + " records, " + st.failures + " errors or security events";
    const levels = ["security", "error", "warn", "info", "debug"].map((l) => [l, (st.by_level || {})[l] || 0, "lvl-" + l]);
    bars($("stats-levels"), levels);
    bars($("stats-events"), (st.top_events || []).map((c) => [c.key, c.count]));
    $("stats").hidden = false;
  }

  // ---- wiring ----

  // body[data-state] is "loading" while a refresh runs and "ready" after it, so that scripts
  // (and the browser test) can tell when the page shows a consistent state.
  async function refresh() {
    document.body.dataset.state = "loading";
    showError(null);
    try {
      await search();
      startLive();
      await loadStats();
    } catch (err) {
      showError(err);
    } finally {
      document.body.dataset.state = "ready";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token").value = token();
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token").value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
      refresh();
    });
    $("token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      refresh();
    });
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      refresh();
    });
    // The button's id must not be "reset": a form's named controls shadow its methods, and
    // form.reset would then be the button, not the function.
    $("reset-filters").addEventListener("click", () => {
      $("filters").reset();
      refresh();
    });
    $("load-more").addEventListener("click", () => loadMore().catch(showError));
    $("live-toggle").addEventListener("click", togglePause);
    $("records").tBodies[0].addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (tr && state.records.has(tr.dataset.id)) showDetail(state.records.get(tr.dataset.id));
    });
    $("detail-close").addEventListener("click", () => { $("detail").hidden = true; state.selected = ""; });
    $("trace-close").addEventListener("click", () => { $("trace").hidden = true; });
    refresh();
  });
})();

// The audit trail viewer: plain browser JavaScript, no build step, no third-party code.
// Every value from the API is put into the page with textContent, never as HTML.
"use strict";

(function () {
  const PAGE = 50;
  const MAX_ROWS = 2000; // live rows beyond this are dropped from the bottom
  const TOKEN_KEY = "auditquery.token";
  // Export reads pages of the API's largest page size and stops at EXPORT_MAX records: past
  // that the browser holds too much in memory, and a narrower range is the better answer.
  const EXPORT_PAGE = 1000;
  const EXPORT_MAX = 200000;
  // After live records arrive the stats and histogram are read again, at most this often: a
  // busy tail then costs 12 requests a minute of the caller's rate limit (default 100).
  const STATS_FOLLOW_MS = 5000;
  // The histogram aims at about this many bars.
  const HIST_BARS = 60;
  // Bucket widths in seconds the histogram picks from, so that bars start on round times.
  const NICE_INTERVALS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800];
  const RELATIVE = { "15m": 15 * 60e3, "1h": 3600e3, "6h": 6 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "365d": 365 * 86400e3 };
  const RELATIVE_LABEL = { "15m": "Last 15 minutes", "1h": "Last hour", "6h": "Last 6 hours", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "365d": "Last 365 days" };
  // Filters the API answers today, and the exact-match ones of the "more filters" group.
  const MAIN_FILTERS = ["min_level", "event", "user_id", "trace_id", "q"];
  const MORE_FILTERS = ["company_id", "employee_id", "entity_type", "scope", "service_name", "tag"];

  const $ = (id) => document.getElementById(id);
  const state = {
    records: new Map(), // id -> record, for the detail view
    cursor: "",
    source: null, // EventSource of the live tail
    paused: false,
    pending: [], // live records received while paused, oldest first
    selected: "",
    // range is {rel: "24h"} (ending now, live) or {start, end} in Unix milliseconds.
    range: { rel: "24h" },
    me: null, // the caller, from /api/v1/whoami
    tenants: new Set(), // tenants seen in records, suggested to admins
    suggestions: { event: [], user_id: [] },
    statsTimer: 0,
    hist: null, // {from, to} in ms of the plotted histogram
    exportAbort: null,
  };

  // ---- auth ----

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function authHeaders() {
    const t = token();
    return t ? { Authorization: "Bearer " + t } : {};
  }

  async function api(path, signal) {
    const res = await fetch(path, { headers: authHeaders(), cache: "no-store", signal });
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const msg = body && body.error ? body.error.message : res.statusText;
      const err = new Error(msg);
      err.status = res.status;
      err.retryAfter = Number(res.headers.get("Retry-After")) || 0;
      throw err;
    }
    return body;
  }

  function showError(err) {
    const box = $("error");
    for (const el of document.querySelectorAll("[aria-invalid=true]")) el.removeAttribute("aria-invalid");
    if (!err) { box.hidden = true; box.textContent = ""; return; }
    // The API names the parameter it refused first ("trace_id: expected ..."): mark its field.
    const named = err.status === 400 && /^([a-z_]+):/.exec(err.message);
    const field = named && $("f-" + named[1]);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      if (field.closest("#more-filters")) { $("more-filters").hidden = false; updateMoreToggle(); }
      $("filters").classList.add("open");
    }
    box.hidden = false;
    if (err.status === 401) box.textContent = "Not signed in: paste a token above. The server said: " + err.message;
    else if (err.status === 400) box.textContent = "The query was refused: " + err.message;
    else if (err.status) box.textContent = "The server answered " + err.status + ": " + err.message;
    else box.textContent = String(err.message || err);
  }

  // ---- time range ----

  // bounds is the range in Unix milliseconds; end is null for a relative range, which stays
  // open so that the newest records (and the live tail) belong to it.
  function bounds() {
    if (state.range.rel) return { start: Date.now() - RELATIVE[state.range.rel], end: null };
    return { start: state.range.start, end: state.range.end };
  }

  function rangeLabel() {
    if (state.range.rel) return RELATIVE_LABEL[state.range.rel];
    return fmtShort(state.range.start) + " – " + fmtShort(state.range.end) + " UTC";
  }

  // datetime-local inputs hold UTC here, like every time on the page.
  function toLocalInput(ms) { return new Date(ms).toISOString().slice(0, 19); }
  function fromLocalInput(v) {
    if (!v) return NaN;
    return Date.parse(v.length === 16 ? v + ":00Z" : v + "Z");
  }

  function setAbsolute(start, end) {
    state.range = { start: Math.floor(start), end: Math.ceil(end) };
    syncRangeControls();
  }

  function syncRangeControls() {
    const abs = !state.range.rel;
    $("range").value = abs ? "absolute" : state.range.rel;
    $("range-abs").hidden = !abs;
    if (abs) {
      $("range-from").value = toLocalInput(state.range.start);
      $("range-to").value = toLocalInput(state.range.end);
    }
  }

  function zoomOut() {
    const b = bounds();
    const end = b.end == null ? Date.now() : b.end;
    const span = end - b.start;
    let start = b.start - span / 2, newEnd = end + span / 2;
    // The future holds no records: what would lie past now goes to the past instead.
    const now = Date.now();
    if (newEnd > now && end <= now) { start -= newEnd - now; newEnd = now; }
    setAbsolute(start, newEnd);
    refresh();
  }

  // ---- filters ----

  // filterParams are the filters of the form plus tenant and time range: what the list, the
  // export and (without the range) the live tail ask for. Only non-empty values are sent.
  function filterParams(withRange) {
    const form = $("filters");
    const p = new URLSearchParams();
    const tenant = $("f-tenant").value.trim();
    if (tenant && isAdmin()) p.set("tenant", tenant);
    const levels = [...form.querySelectorAll("input[name=level]:checked")].map((c) => c.value);
    if (levels.length) p.set("level", levels.join(","));
    for (const name of MAIN_FILTERS.concat(MORE_FILTERS)) {
      const v = form.elements[name].value.trim();
      if (v) p.set(name, v);
    }
    if (withRange) {
      const b = bounds();
      p.set("start", String(Math.floor(b.start)));
      if (b.end != null) p.set("end", String(b.end));
    }
    return p;
  }

  function moreFiltersInUse() {
    return MORE_FILTERS.filter((n) => $("f-" + n).value.trim() !== "").length;
  }

  function filtersInUse() {
    const form = $("filters");
    return form.querySelectorAll("input[name=level]:checked").length +
      MAIN_FILTERS.concat(MORE_FILTERS).filter((n) => form.elements[n].value.trim() !== "").length;
  }

  function updateMoreToggle() {
    const all = filtersInUse();
    const folded = !$("filters").classList.contains("open");
    $("filters-toggle").textContent = (folded ? "▸ Filters" : "▾ Filters") + (all ? " (" + all + " in use)" : "");
    $("filters-toggle").setAttribute("aria-expanded", String(!folded));
    const n = moreFiltersInUse();
    const open = !$("more-filters").hidden;
    $("more-toggle").textContent = (open ? "Fewer filters" : "More filters") + (n ? " (" + n + ")" : "");
    $("more-toggle").setAttribute("aria-expanded", String(open));
  }

  function isAdmin() { return !state.me || state.me.role === "admin"; }

  // The URL fragment holds the query, so that a view can be bookmarked or sent to a colleague.
  function writeHash() {
    const p = filterParams(false);
    if (state.range.rel) p.set("range", state.range.rel);
    else { p.set("start", String(state.range.start)); p.set("end", String(state.range.end)); }
    const h = "#" + p.toString();
    if (location.hash !== h) history.replaceState(null, "", h);
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const form = $("filters");
    const levels = (p.get("level") || "").split(",");
    for (const c of form.querySelectorAll("input[name=level]")) c.checked = levels.includes(c.value);
    for (const name of MAIN_FILTERS.concat(MORE_FILTERS)) form.elements[name].value = p.get(name) || "";
    $("f-tenant").value = p.get("tenant") || "";
    const s = Number(p.get("start")), e = Number(p.get("end"));
    if (s && e && e > s) state.range = { start: s, end: e };
    else if (RELATIVE[p.get("range")]) state.range = { rel: p.get("range") };
    if (moreFiltersInUse()) $("more-filters").hidden = false;
    syncRangeControls();
    updateMoreToggle();
  }

  // ---- list ----

  function fmtTime(ts) {
    const d = new Date(ts);
    if (isNaN(d)) return ts;
    return d.toISOString().replace("T", " ").replace("Z", "");
  }

  function fmtShort(ms) {
    return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
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
    if (rec.tenant_id) state.tenants.add(rec.tenant_id);
    const tr = document.createElement("tr");
    tr.dataset.id = rec.id;
    tr.append(
      cell(fmtTime(rec.timestamp), "time"),
      cell(levelBadge(rec.level), "level"),
      cell(rec.tenant_id, "tenant"),
      cell(rec.event, "event"),
      cell(rec.user_id, "user"),
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
    const n = $("records").querySelectorAll("tbody tr[data-id]").length;
    const empty = $("empty");
    empty.hidden = n > 0;
    $("records").hidden = n === 0;
    if (!n) empty.textContent = "No record matches in " + rangeLabel() + ". Widen the time range or clear filters.";
    $("count").textContent = n ? n + (state.cursor ? "+ records" : n === 1 ? " record" : " records") : "";
  }

  // current is false once a newer refresh started: an older answer that arrives late must
  // not replace the newer one.
  async function search(current) {
    const p = filterParams(true);
    p.set("limit", String(PAGE));
    const body = await api("/api/v1/logs?" + p);
    if (!current()) return;
    const tbody = $("records").tBodies[0];
    tbody.replaceChildren(...body.records.map(row));
    state.cursor = body.next_cursor || "";
    $("load-more").hidden = !state.cursor;
    updateEmpty();
  }

  async function loadMore() {
    if (!state.cursor) return;
    const p = filterParams(true);
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
    // The replay that opens the stream is the newest records whatever their age: those before
    // the range do not belong to it.
    if (Date.parse(rec.timestamp) < bounds().start) return;
    const tr = row(rec);
    tr.classList.add("fresh");
    prepend(tr);
    updateEmpty();
  }

  function startLive() {
    stopLive();
    if (!state.range.rel) {
      // An absolute range is a fixed window into the past; a tail would add records outside it.
      setLive("off (absolute range)");
      $("live-toggle").disabled = true;
      return;
    }
    $("live-toggle").disabled = false;
    const p = filterParams(false);
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
      followStats();
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
      setLive(es.readyState === EventSource.CLOSED ? "off (refused; check the token and filters)" : "reconnecting");
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
      if (name.endsWith("timestamp")) dd.className = "ts";
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    $("detail-attributes").textContent = JSON.stringify(rec.attributes || {}, null, 2);
    $("detail-resource").textContent = JSON.stringify(rec.resource || {}, null, 2);
    const traceBtn = $("show-trace");
    traceBtn.hidden = !rec.trace_id;
    traceBtn.onclick = () => showTrace(rec.trace_id, rec.tenant_id).catch(showError);
    $("detail").hidden = false;
    // On a narrow screen the panel is below the list: bring it into view.
    if (window.matchMedia("(max-width: 1000px)").matches) $("detail").scrollIntoView({ block: "start" });
  }

  // ---- trace timeline ----

  async function showTrace(traceID, tenant) {
    const q = isAdmin() && tenant ? "?tenant=" + encodeURIComponent(tenant) : "";
    const body = await api("/api/v1/traces/" + encodeURIComponent(traceID) + q);
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

  function fmtInterval(ms) {
    const s = ms / 1000;
    if (s < 60) return s + " s";
    if (s < 3600) return s / 60 + " min";
    if (s < 86400) return s / 3600 + " h";
    return s / 86400 + " d";
  }

  function fmtOffset(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return (ms / 60000).toFixed(1) + " min";
  }

  // ---- stats and histogram (both from /api/v1/stats over the range) ----

  // entries are [label, count] or [label, count, class of the bar].
  function bars(container, entries) {
    container.replaceChildren();
    const maxN = Math.max(1, ...entries.map((e) => e[1]));
    for (const [key, n, cls] of entries) {
      const r = document.createElement("div");
      r.className = "bar-row";
      const k = document.createElement("span");
      k.className = "k";
      k.textContent = key;
      k.title = key;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill" + (cls ? " " + cls : "");
      fill.style.width = (n / maxN) * 100 + "%";
      // A few records next to thousands still show.
      if (n > 0) fill.style.minWidth = "2px";
      track.appendChild(fill);
      const c = document.createElement("span");
      c.className = "n";
      c.textContent = String(n);
      r.append(k, track, c);
      container.appendChild(r);
    }
    if (!entries.length) {
      const none = document.createElement("p");
      none.className = "muted small";
      none.textContent = "none";
      container.appendChild(none);
    }
  }

  function niceInterval(spanMs) {
    const want = spanMs / 1000 / HIST_BARS;
    return NICE_INTERVALS.find((s) => s >= want) || NICE_INTERVALS[NICE_INTERVALS.length - 1];
  }

  async function loadStats(current) {
    const b = bounds();
    const end = b.end == null ? Date.now() : b.end;
    const p = new URLSearchParams();
    const tenant = $("f-tenant").value.trim();
    if (tenant && isAdmin()) p.set("tenant", tenant);
    p.set("start", String(Math.floor(b.start)));
    p.set("end", String(end));
    p.set("interval", niceInterval(end - b.start) + "s");
    let st;
    try {
      st = await api("/api/v1/stats?" + p);
      if (current && !current()) return;
    } catch (err) {
      if (current && !current()) return;
      // A store without statistics (501) or an older server (404): the panels stay hidden.
      $("stats").hidden = true;
      $("histogram").hidden = true;
      if (err.status === 401 || err.status === 403 || err.status === 400) throw err;
      return;
    }
    $("stats-title").textContent = rangeLabel();
    $("stats-range").textContent = "All records of " + (st.tenant ? "tenant " + st.tenant : "every tenant") + " in the range; the filters apply to the list only.";
    $("stats-total").textContent = st.total + " records, " + st.failures + " errors or security events";
    const levels = ["security", "error", "warn", "info", "debug"].map((l) => [l, (st.by_level || {})[l] || 0, "lvl-" + l]);
    bars($("stats-levels"), levels);
    bars($("stats-events"), (st.top_events || []).map((c) => [c.key, c.count]));
    bars($("stats-users"), (st.top_users || []).map((c) => [c.key, c.count]));
    state.suggestions.event = (st.top_events || []).map((c) => c.key);
    state.suggestions.user_id = (st.top_users || []).map((c) => c.key);
    $("stats").hidden = false;
    drawHistogram(st, Math.floor(b.start), end);
  }

  // followStats reads the stats again shortly after live records arrive, so that the panel
  // and the histogram count them; a burst of records costs one request.
  function followStats() {
    if (state.statsTimer || !state.range.rel) return;
    state.statsTimer = setTimeout(() => {
      state.statsTimer = 0;
      const at = refreshing;
      loadStats(() => at === refreshing).catch(() => { /* the next refresh reports it */ });
    }, STATS_FOLLOW_MS);
  }

  // The histogram stacks the levels in this order, bottom to top.
  const HIST_LEVELS = ["debug", "info", "warn", "error", "security"];

  function drawHistogram(st, from, to) {
    const buckets = st.histogram || [];
    const iv = (st.interval_seconds || 60) * 1000;
    const plot = $("hist-bars");
    plot.replaceChildren();
    state.hist = { from, to, iv };
    const maxN = Math.max(1, ...buckets.map((x) => x.count));
    for (const bk of buckets) {
      const t = Date.parse(bk.start);
      // The first and last buckets may reach outside the range: draw only their share.
      const left = Math.max(t, from), right = Math.min(t + iv, to);
      if (right <= left) continue;
      const col = document.createElement("div");
      col.className = "hist-col";
      col.style.left = ((left - from) / (to - from)) * 100 + "%";
      col.style.width = ((right - left) / (to - from)) * 100 + "%";
      col.dataset.start = String(t);
      col.dataset.count = String(bk.count);
      const byLevel = bk.by_level || {};
      const parts = HIST_LEVELS.filter((l) => byLevel[l] > 0).map((l) => byLevel[l] + " " + l);
      col.title = fmtShort(t) + " – " + fmtShort(t + iv) + " UTC: " + bk.count + " records" + (parts.length ? " (" + parts.join(", ") + ")" : "");
      // One segment per level, debug at the bottom and security on top (the column stacks
      // its children upwards).
      for (const l of HIST_LEVELS) {
        const n = byLevel[l] || 0;
        if (n === 0) continue;
        const seg = document.createElement("div");
        seg.className = "seg lvl-" + l;
        seg.dataset.level = l;
        seg.dataset.count = String(n);
        seg.style.height = (n / maxN) * 100 + "%";
        // A level with a few records next to thousands is still visible.
        seg.style.minHeight = "2px";
        col.appendChild(seg);
      }
      plot.appendChild(col);
    }
    $("hist-from").textContent = fmtShort(from);
    $("hist-mid").textContent = fmtShort((from + to) / 2);
    $("hist-to").textContent = fmtShort(to);
    $("hist-range").textContent = st.total + " records, bars of " + fmtInterval(iv);
    $("histogram").hidden = false;
  }

  // Dragging across the histogram selects an interval and zooms the range to it; a click
  // without a drag zooms to the bar under the pointer.
  function wireHistogram() {
    const plot = $("hist-plot");
    const sel = $("hist-sel");
    let x0 = null;
    const frac = (ev) => {
      const r = plot.getBoundingClientRect();
      return Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    };
    plot.addEventListener("pointerdown", (ev) => {
      if (!state.hist || ev.button !== 0) return;
      x0 = frac(ev);
      plot.setPointerCapture(ev.pointerId);
      sel.style.left = x0 * 100 + "%";
      sel.style.width = "0";
      sel.hidden = false;
      ev.preventDefault();
    });
    plot.addEventListener("pointermove", (ev) => {
      if (x0 == null) return;
      const x = frac(ev);
      sel.style.left = Math.min(x0, x) * 100 + "%";
      sel.style.width = Math.abs(x - x0) * 100 + "%";
    });
    const finish = (ev, cancelled) => {
      if (x0 == null) return;
      const x = frac(ev), a = Math.min(x0, x), b = Math.max(x0, x);
      x0 = null;
      sel.hidden = true;
      if (cancelled) return;
      const h = state.hist, span = h.to - h.from;
      const widthPx = (b - a) * plot.getBoundingClientRect().width;
      let start, end;
      if (widthPx < 5) {
        const t = h.from + a * span;
        start = Math.max(h.from, Math.floor((t - 0) / h.iv) * h.iv);
        end = Math.min(h.to, start + h.iv);
      } else {
        start = h.from + a * span;
        end = h.from + b * span;
      }
      if (end - start < 1000) return;
      setAbsolute(start, end);
      refresh();
    };
    plot.addEventListener("pointerup", (ev) => finish(ev, false));
    plot.addEventListener("pointercancel", (ev) => finish(ev, true));
  }

  // ---- suggestions (events and users from the stats, tenants from the records seen) ----

  function wireSuggest(input, list, source, onPick) {
    let active = -1;
    const close = () => {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      active = -1;
    };
    const open = () => {
      const v = input.value.trim().toLowerCase();
      const items = source().filter((s) => s.toLowerCase().includes(v) && s !== input.value).slice(0, 10);
      list.replaceChildren(...items.map((s, i) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = list.id + "-" + i;
        li.textContent = s;
        // mousedown, not click: the input's blur would otherwise close the list first.
        li.addEventListener("mousedown", (ev) => {
          ev.preventDefault();
          input.value = s;
          close();
          onPick();
        });
        return li;
      }));
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
      active = -1;
    };
    const mark = () => {
      [...list.children].forEach((li, i) => li.classList.toggle("active", i === active));
      if (active >= 0) input.setAttribute("aria-activedescendant", list.children[active].id);
      else input.removeAttribute("aria-activedescendant");
    };
    input.addEventListener("focus", open);
    input.addEventListener("input", open);
    input.addEventListener("blur", close);
    input.addEventListener("keydown", (ev) => {
      const n = list.children.length;
      if (ev.key === "ArrowDown" && n) { if (list.hidden) open(); active = (active + 1) % n; mark(); ev.preventDefault(); }
      else if (ev.key === "ArrowUp" && n) { active = (active - 1 + n) % n; mark(); ev.preventDefault(); }
      else if (ev.key === "Escape") close();
      else if (ev.key === "Enter" && active >= 0 && !list.hidden) {
        input.value = list.children[active].textContent;
        close();
        ev.preventDefault();
        onPick();
      }
    });
  }

  // ---- export (every record of the current query, read page by page) ----

  const CSV_FIELDS = DETAIL_FIELDS.concat(["attributes", "resource"]);

  // csvCell quotes per RFC 4180. A text starting with = + - @ or a control character gets a
  // leading apostrophe, so that a spreadsheet shows it instead of running it as a formula
  // (an audit message is attacker-controlled text). NDJSON keeps every value as it is.
  function csvCell(v) {
    if (v == null) return "";
    let s;
    if (Array.isArray(v)) s = v.join(", ");
    else if (typeof v === "object") s = JSON.stringify(v);
    else s = String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  const sleep = (ms, signal) => new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(t); reject(new DOMException("aborted", "AbortError")); });
  });

  async function exportRecords(format) {
    if (state.exportAbort) return;
    const ctl = new AbortController();
    state.exportAbort = ctl;
    const status = $("export-status");
    const buttons = [$("export-ndjson"), $("export-csv")];
    buttons.forEach((b) => { b.disabled = true; });
    $("export-cancel").hidden = false;
    $("export-dismiss").hidden = true;
    $("export-box").hidden = false;
    status.textContent = "Exporting…";
    document.body.dataset.export = "running";
    const p = filterParams(true);
    // A relative range is fixed at the moment of the export, so the file says what it holds.
    const b = bounds();
    const end = b.end == null ? Date.now() : b.end;
    p.set("end", String(end));
    p.set("limit", String(EXPORT_PAGE));
    const chunks = format === "csv" ? ["\ufeff" + CSV_FIELDS.join(",") + "\r\n"] : [];
    let n = 0, cursor = "", truncated = false;
    try {
      for (;;) {
        if (cursor) p.set("cursor", cursor);
        let body;
        try {
          body = await api("/api/v1/logs?" + p, ctl.signal);
        } catch (err) {
          if (err.status === 429) {
            // The caller's request budget is spent: wait as told, then go on.
            status.textContent = "Exporting: " + n + " records, waiting for the rate limit…";
            await sleep(Math.min(60, err.retryAfter || 5) * 1000, ctl.signal);
            continue;
          }
          throw err;
        }
        for (const rec of body.records) {
          chunks.push(format === "csv" ? CSV_FIELDS.map((f) => csvCell(rec[f])).join(",") + "\r\n" : JSON.stringify(rec) + "\n");
        }
        n += body.records.length;
        cursor = body.next_cursor || "";
        status.textContent = "Exporting: " + n + " records…";
        if (!cursor) break;
        if (n >= EXPORT_MAX) { truncated = true; break; }
      }
      const name = "audit-" + ($("f-tenant").value.trim() || "all") + "-" + stamp(b.start) + "-" + stamp(end) + "." + format;
      download(new Blob(chunks, { type: format === "csv" ? "text/csv;charset=utf-8" : "application/x-ndjson" }), name);
      status.textContent = "Exported " + n + " records to " + name + (truncated ? " (stopped at " + EXPORT_MAX + "; narrow the range for the rest)" : "");
      document.body.dataset.export = "done";
    } catch (err) {
      if (err.name === "AbortError") {
        status.textContent = "Export cancelled after " + n + " records";
        document.body.dataset.export = "cancelled";
      } else {
        status.textContent = "Export failed after " + n + " records";
        document.body.dataset.export = "failed";
        showError(err);
      }
    } finally {
      state.exportAbort = null;
      buttons.forEach((bt) => { bt.disabled = false; });
      $("export-cancel").hidden = true;
      $("export-dismiss").hidden = false;
    }
  }

  function stamp(ms) { return new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, ""); }

  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }

  // ---- who is signed in ----

  async function loadMe() {
    state.me = null;
    try {
      state.me = await api("/api/v1/whoami");
    } catch (err) {
      if (err.status !== 404) throw err; // 404: an older server without whoami
    }
    const admin = isAdmin();
    $("tenant-box").hidden = !admin;
    for (const t of (state.me && state.me.tenants) || []) state.tenants.add(t);
    const who = $("who");
    who.textContent = state.me ? state.me.user + " · " + (admin ? "admin" : "tenant " + (state.me.tenant || "none")) : "";
  }

  // signedOut removes what an earlier token showed: a cleared or refused token must not leave
  // records on the screen.
  function signedOut() {
    stopLive();
    setLive("off (not signed in)");
    $("records").tBodies[0].replaceChildren();
    state.records.clear();
    state.tenants.clear();
    state.cursor = "";
    $("load-more").hidden = true;
    for (const id of ["stats", "histogram", "detail", "trace", "empty"]) $(id).hidden = true;
    $("count").textContent = "";
    $("records").hidden = true;
    $("live-toggle").disabled = true;
    $("who").textContent = "";
    state.suggestions = { event: [], user_id: [] };
  }

  // queryFailed empties the list: rows of an earlier query under the message that this one
  // failed would read as its answer.
  function queryFailed() {
    stopLive();
    setLive("off (the query failed)");
    $("live-toggle").disabled = true;
    $("records").tBodies[0].replaceChildren();
    state.cursor = "";
    $("load-more").hidden = true;
    $("records").hidden = true;
    $("count").textContent = "";
    $("empty").hidden = false;
    $("empty").textContent = "No records: the query failed (see the message above).";
  }

  // ---- wiring ----

  // body[data-state] is "loading" while a refresh runs and "ready" after it, so that scripts
  // (and the browser test) can tell when the page shows a consistent state.
  let refreshing = 0; // counts refreshes; only the latest may change the page
  async function refresh(withMe) {
    const mine = ++refreshing;
    document.body.dataset.state = "loading";
    showError(null);
    writeHash();
    updateMoreToggle();
    try {
      if (withMe || !state.me) await loadMe();
      const current = () => mine === refreshing;
      await search(current);
      if (!current()) return;
      startLive();
      await loadStats(current);
    } catch (err) {
      if (mine !== refreshing) return;
      if (err.status === 401 || err.status === 403) signedOut();
      else queryFailed();
      showError(err);
    } finally {
      if (mine === refreshing) document.body.dataset.state = "ready";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token").value = token();
    readHash();
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token").value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
      refresh(true);
    });
    $("token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      refresh(true);
    });
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      refresh();
    });
    // The button's id must not be "reset": a form's named controls shadow its methods, and
    // form.reset would then be the button, not the function.
    $("reset-filters").addEventListener("click", () => {
      $("filters").reset();
      updateMoreToggle();
      refresh();
    });
    $("more-toggle").addEventListener("click", () => {
      $("more-filters").hidden = !$("more-filters").hidden;
      updateMoreToggle();
      if (!$("more-filters").hidden) $("f-company_id").focus();
    });
    $("filters").addEventListener("input", updateMoreToggle);
    $("filters").addEventListener("change", updateMoreToggle);
    $("filters-toggle").addEventListener("click", () => {
      $("filters").classList.toggle("open");
      updateMoreToggle();
    });
    $("range").addEventListener("change", () => {
      const v = $("range").value;
      if (v === "absolute") {
        // Start from the range shown now, made explicit.
        const b = bounds();
        setAbsolute(b.start, b.end == null ? Date.now() : b.end);
        $("range-from").focus();
        return;
      }
      state.range = { rel: v };
      syncRangeControls();
      refresh();
    });
    $("range-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const s = fromLocalInput($("range-from").value), e = fromLocalInput($("range-to").value);
      if (isNaN(s) || isNaN(e) || e <= s) {
        showError(new Error("Time range: From and To must be valid UTC times, To after From"));
        return;
      }
      setAbsolute(s, e);
      refresh();
    });
    $("zoom-out").addEventListener("click", zoomOut);
    $("load-more").addEventListener("click", () => loadMore().catch(showError));
    $("live-toggle").addEventListener("click", togglePause);
    $("records").tBodies[0].addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (tr && state.records.has(tr.dataset.id)) showDetail(state.records.get(tr.dataset.id));
    });
    $("detail-close").addEventListener("click", () => {
      $("detail").hidden = true;
      state.selected = "";
      for (const tr of document.querySelectorAll("#records tbody tr.selected")) tr.classList.remove("selected");
    });
    $("trace-close").addEventListener("click", () => { $("trace").hidden = true; });
    $("export-ndjson").addEventListener("click", () => exportRecords("ndjson"));
    $("export-csv").addEventListener("click", () => exportRecords("csv"));
    $("export-cancel").addEventListener("click", () => { if (state.exportAbort) state.exportAbort.abort(); });
    $("export-dismiss").addEventListener("click", () => { $("export-box").hidden = true; });
    wireSuggest($("f-event"), $("suggest-event"), () => state.suggestions.event, () => refresh());
    wireSuggest($("f-user_id"), $("suggest-user_id"), () => state.suggestions.user_id, () => refresh());
    wireSuggest($("f-tenant"), $("suggest-tenant"), () => [...state.tenants].sort(), () => refresh());
    $("f-tenant").addEventListener("change", () => refresh());
    wireHistogram();
    refresh(true);
  });
})();

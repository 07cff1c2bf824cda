package auditqueryextension

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test. Without Chromium the test is skipped on a
// developer machine and fails in CI (CI=true), where the install script provides it.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s is not installed (apt-get install chromium); CI runs this test", chromiumPath)
		}
		t.Fatalf("CI needs %s for the viewer test: %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		// Root in a container has no user namespace for the sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// viewerRecords are recent records (so that the last-24h stats show them), one trace among them.
func viewerRecords(now time.Time) []record.Record {
	const trace = "7be2a1c3d4e5f60718293a4b5c6d7e8f"
	mk := func(ago time.Duration, level record.Level, event, user, msg string, edit func(*record.Record)) record.Record {
		r := record.Record{
			ID: record.NewID(), Timestamp: now.Add(-ago), ObservedTimestamp: now.Add(-ago),
			Level: level, Event: event, Message: msg, TenantID: "acme", UserID: user, ServiceName: "billing",
			Attributes: map[string]any{"http.route": "/invoices/{id}", "audit.reason": event},
			Resource:   map[string]any{"service.name": "billing", "deployment.environment": "prod"},
		}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	inTrace := func(span string, ms int) func(*record.Record) {
		return func(r *record.Record) {
			r.TraceID, r.SpanID = trace, span
			r.Timestamp = now.Add(-10 * time.Minute).Add(time.Duration(ms) * time.Millisecond)
		}
	}
	return []record.Record{
		mk(50*time.Minute, record.LevelInfo, "user.login", "alice", "alice logged in", nil),
		mk(40*time.Minute, record.LevelInfo, "invoice.view", "alice", "alice opened invoice 1042", nil),
		mk(0, record.LevelInfo, "invoice.update", "bob", "bob started editing invoice 1042", inTrace("a1a1a1a1a1a1a1a1", 0)),
		mk(0, record.LevelWarn, "invoice.update", "bob", "total changed by more than 10%", inTrace("b2b2b2b2b2b2b2b2", 120)),
		mk(0, record.LevelError, "payment.charge", "bob", "card declined by the processor", inTrace("c3c3c3c3c3c3c3c3", 480)),
		mk(5*time.Minute, record.LevelSecurity, "auth.failed", "mallory", "three failed logins for mallory", func(r *record.Record) {
			r.IPAddress = "203.0.113.7"
		}),
		mk(2*time.Minute, record.LevelDebug, "cache.miss", "alice", "invoice 1042 not cached", nil),
	}
}

// failedResources are the console lines of requests a test makes fail on purpose: the API's
// 401 before sign-in and 400 for a malformed filter. Anything else in the console is a defect.
var failedResources = []string{"status of 401", "status of 400"}

func TestViewer_SignInFiltersSuggestionsLiveTailDetailAndTrace(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	now := time.Now().UTC()
	recs := viewerRecords(now)
	_, err := s.f.store.Insert(context.Background(), "acme", recs)
	require.NoError(t, err)
	s.ext.publish(recs) // as the exporter does after the commit; nobody listens yet
	admin := sign(t, adminClaims("root"))

	// Without a token the API answers 401 and the page says so, with nothing else to show.
	p := openViewer(t, s.base+"/")
	p.waitReady(`!document.getElementById("error").hidden`)
	assert.Contains(t, p.text("#error"), "Not signed in")
	assert.Equal(t, "live: off (not signed in)", p.text("#live-state"))
	p.shot("signed-out")

	// Signed in (the token is kept in sessionStorage, sent as Bearer and, for the stream, as
	// access_token): the last 24 hours, which hold this test's seven records and not the
	// fixture's, from March.
	p.typeInto("#token", admin)
	p.click("#token-use")
	p.waitReady(rowsExpr + ` === 7 && !document.getElementById("histogram").hidden`)
	assert.Equal(t, admin, eval[string](p, `sessionStorage.getItem("auditquery.token")`))
	assert.Equal(t, "root · admin", p.text("#who"))
	assert.True(t, p.visible("#f-tenant"), "an admin may pick a tenant")
	assert.Equal(t, "invoice 1042 not cached", p.text("#records tbody tr:first-child td.msg"), "newest first")
	assert.Equal(t, "Last 24 hours", p.text("#stats-title"))
	assert.Equal(t, "7 records, 2 errors or security events", p.text("#stats-total"))
	assert.Equal(t, 7, eval[int](p, `[...document.querySelectorAll("#hist-bars .hist-col")].reduce((n, c) => n + Number(c.dataset.count), 0)`),
		"the histogram counts the range's records")
	assert.Equal(t, map[string]int{"debug": 1, "info": 3, "warn": 1, "error": 1, "security": 1},
		eval[map[string]int](p, `[...document.querySelectorAll("#hist-bars .seg")].reduce((m, s) => { m[s.dataset.level] = (m[s.dataset.level] || 0) + Number(s.dataset.count); return m; }, {})`),
		"the histogram stacks each level's records")
	p.waitFor(`document.getElementById("live-state").textContent === "live: on"`)
	p.shot("results")

	// Level checkboxes, then the minimum level.
	p.click(`#filters input[value="warn"]`)
	p.click(`#filters input[value="error"]`)
	p.click("#apply")
	p.waitReady(rowsExpr + " === 2")
	assert.Equal(t, []string{"error", "warn"}, p.column(2))
	p.click(`#filters input[value="warn"]`)
	p.click(`#filters input[value="error"]`)
	p.choose("#f-min_level", "security")
	p.click("#apply")
	p.waitReady(rowsExpr + " === 1")
	assert.Equal(t, []string{"mallory"}, p.column(5))
	p.choose("#f-min_level", "")

	// Suggestions: the range's top users, offered when the field gets focus; picking one
	// applies it.
	p.click("#f-user_id")
	p.waitFor(`!document.getElementById("suggest-user_id").hidden`)
	assert.Equal(t, []string{"alice", "bob", "mallory"}, eval[[]string](p, `[...document.querySelectorAll("#suggest-user_id li")].map(li => li.textContent)`))
	p.click("#suggest-user_id li:nth-child(2)")
	p.waitReady(rowsExpr + ` === 3 && document.getElementById("f-user_id").value === "bob"`)
	assert.Equal(t, []string{"bob", "bob", "bob"}, p.column(5))
	assert.False(t, p.visible("#suggest-user_id"), "the list closes after the pick")
	p.waitFor(`document.getElementById("live-state").textContent === "live: on"`)

	// A record stored and published after the page loaded appears at the top; one of another
	// user does not. The stats follow: they count both (they are of the range, not the filter).
	live := viewerRecords(time.Now().UTC())[4]
	live.ID, live.Message, live.TraceID, live.SpanID = record.NewID(), "bob retried the payment", "", ""
	other := viewerRecords(time.Now().UTC())[0]
	other.ID = record.NewID()
	_, err = s.f.store.Insert(context.Background(), "acme", []record.Record{other, live})
	require.NoError(t, err)
	s.ext.publish([]record.Record{other, live})
	p.waitFor(fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, live.ID))
	assert.Equal(t, 4, p.rows(), "the live tail applies the filter: alice's record is not shown")
	p.waitFor(`document.getElementById("stats-total").textContent.startsWith("9 records")`)
	assert.False(t, p.visible("#load-more"), "one page holds every match: no load more button")

	// Paused, the tail holds new records back and counts them; resumed, it shows them.
	held := live
	held.ID, held.Message = record.NewID(), "bob gave up"
	p.click("#live-toggle")
	assert.Equal(t, "Resume", p.text("#live-toggle"))
	s.ext.publish([]record.Record{held})
	p.waitFor(`document.getElementById("live-pending").textContent === "1 new"`)
	assert.Equal(t, 4, p.rows(), "nothing is added while paused")
	p.shot("live-paused")
	p.click("#live-toggle")
	p.waitFor(fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, held.ID))
	assert.Equal(t, "live: on", p.text("#live-state"))
	p.shot("live")

	// Event suggestions are the range's top events; the pick narrows bob's records further.
	p.click("#f-event")
	p.waitFor(`!document.getElementById("suggest-event").hidden`)
	events := eval[[]string](p, `[...document.querySelectorAll("#suggest-event li")].map(li => li.textContent)`)
	require.Contains(t, events, "payment.charge")
	// This time by keyboard: type, arrow down to the suggestion, Enter.
	p.typeInto("#f-event", "pay")
	p.waitFor(`document.querySelectorAll("#suggest-event li").length === 1`)
	p.do("pick with the keyboard", chromedp.KeyEvent(kb.ArrowDown))
	assert.Equal(t, "suggest-event-0", eval[string](p, `document.getElementById("f-event").getAttribute("aria-activedescendant")`))
	p.do("pick with the keyboard", chromedp.KeyEvent(kb.Enter))
	p.waitReady(rowsExpr + ` === 2 && document.getElementById("f-event").value === "payment.charge"`)

	// A text that matches nothing: the empty state says where it looked and what to do.
	p.typeInto("#f-q", "nothingmatchesthis")
	p.click("#apply")
	p.waitReady(`!document.getElementById("empty").hidden`)
	assert.Equal(t, "No record matches in Last 24 hours. Widen the time range or clear filters.", p.text("#empty"))
	assert.False(t, p.visible("#records"), "no empty table header")
	p.shot("empty")

	// Reset clears every filter: the range's nine stored records again.
	p.click("#reset-filters")
	p.waitReady(rowsExpr + " === 9")
	assert.Empty(t, eval[string](p, `document.getElementById("f-user_id").value + document.getElementById("f-event").value + document.getElementById("f-q").value`))

	// The detail view shows the fields and the attributes as JSON; the trace view orders the
	// trace's records with their offsets, and a click on one shows it in the detail view.
	p.click(fmt.Sprintf(`#records tbody tr[data-id=%q]`, recs[3].ID))
	p.waitFor(`!document.getElementById("detail").hidden`)
	assert.Contains(t, p.text("#detail-attributes"), `"http.route": "/invoices/{id}"`, "attributes are pretty-printed JSON")
	assert.Contains(t, p.text("#detail-fields"), "total changed by more than 10%")
	assert.Equal(t, recs[3].ID, eval[string](p, `document.querySelector("#records tbody tr.selected").dataset.id`))
	p.click("#show-trace")
	p.waitFor(`document.querySelectorAll("#trace-list li").length === 3`)
	assert.Equal(t, []string{"+0 ms", "+120 ms", "+480 ms"}, eval[[]string](p, `[...document.querySelectorAll("#trace-list .offset")].map(e => e.textContent)`))
	p.click("#trace-list li:first-child")
	p.waitFor(`document.getElementById("detail-fields").textContent.includes("bob started editing invoice 1042")`)
	p.shot("detail")
	p.click("#trace-close")
	assert.False(t, p.visible("#trace"))
	p.click("#detail-close")
	assert.False(t, p.visible("#detail"))
	assert.Zero(t, eval[int](p, `document.querySelectorAll("#records tbody tr.selected").length`), "no row stays selected")

	// A malformed filter: the API's 400 is shown as it says it.
	p.typeInto("#f-trace_id", "xyz")
	p.click("#apply")
	p.waitReady(`!document.getElementById("error").hidden`)
	assert.Contains(t, p.text("#error"), "The query was refused: trace_id: expected 32 hex characters")
	assert.Zero(t, p.rows(), "the earlier query's rows are not shown under its error")
	assert.Equal(t, "No records: the query failed (see the message above).", p.text("#empty"))
	assert.Equal(t, "live: off (the query failed)", p.text("#live-state"))
	assert.Equal(t, []string{"f-trace_id"}, eval[[]string](p, `[...document.querySelectorAll("[aria-invalid=true]")].map(e => e.id)`), "the refused field is marked")
	p.shot("error")

	// Clearing the token signs out: the records shown so far go with it.
	p.click("#token-clear")
	p.waitReady(`!document.getElementById("error").hidden && ` + rowsExpr + ` === 0`)
	assert.Contains(t, p.text("#error"), "Not signed in")
	assert.False(t, p.visible("#stats"))
	assert.False(t, p.visible("#histogram"))
	assert.Empty(t, p.text("#who"))

	assert.Empty(t, p.consoleErrors(failedResources...), "the console is clean")
}

func TestViewer_TimeRangePresetsAbsoluteRangeAndHistogramZoom(t *testing.T) {
	s := startLive(t, nil) // loopback without auth: the caller is the anonymous admin
	now := time.Now().UTC()
	_, err := s.f.store.Insert(context.Background(), "acme", viewerRecords(now))
	require.NoError(t, err)
	p := openViewer(t, s.base+"/")
	p.waitReady(rowsExpr + " === 7")

	// A preset: the last hour holds the seven records (50 minutes old and newer).
	p.choose("#range", "1h")
	p.waitReady(`document.getElementById("stats-title").textContent === "Last hour"`)
	assert.Equal(t, 7, p.rows())
	assert.Equal(t, "7 records, 2 errors or security events", p.text("#stats-total"))
	assert.False(t, p.visible("#range-abs"), "a preset needs no dates")

	// Dragging across the second half of the histogram zooms to its last 30 minutes, which
	// leave out the records 40 and 50 minutes old.
	plot := p.rect("#hist-plot")
	y := plot.Top + plot.Height/2
	p.do("drag across the histogram", chromedp.DragAndDropXY(plot.Left+plot.Width*0.5, y, plot.Left+plot.Width-1, y))
	p.waitReady(`document.getElementById("range").value === "absolute" && ` + rowsExpr + ` === 5`)
	assert.True(t, p.visible("#range-abs"), "the zoomed range shows as dates")
	from, to := rangeInputs(t, p)
	assert.InDelta(t, 30*time.Minute, to.Sub(from), float64(time.Minute), "the range is the dragged half of the hour")
	assert.WithinDuration(t, now, to, 2*time.Minute)
	assert.Equal(t, "5 records, 2 errors or security events", p.text("#stats-total"), "the stats follow the range")
	assert.Equal(t, "live: off (absolute range)", p.text("#live-state"))
	assert.True(t, eval[bool](p, `document.getElementById("live-toggle").disabled`))
	p.shot("histogram-zoomed")

	// A click on a bar (no drag) zooms to that bar's interval: the list then holds the records
	// the bar counts.
	p.do("scroll to the histogram", chromedp.ScrollIntoView(chromedp.CSS("#hist-plot")))
	bar := eval[int](p, `(() => { const cols = [...document.querySelectorAll("#hist-bars .hist-col")];
		const counts = cols.map(c => Number(c.dataset.count)); return counts.indexOf(Math.max(...counts)); })()`)
	inBar := eval[int](p, fmt.Sprintf(`Number(document.querySelectorAll("#hist-bars .hist-col")[%d].dataset.count)`, bar))
	require.Positive(t, inBar)
	p.click(fmt.Sprintf("#hist-bars .hist-col:nth-child(%d)", bar+1))
	p.waitReady(fmt.Sprintf(`document.getElementById("stats-total").textContent.startsWith("%d records") && %s === %d && document.getElementById("hist-range").textContent.startsWith("%d records")`, inBar, rowsExpr, inBar, inBar))
	from, to = rangeInputs(t, p)
	barWidth := to.Sub(from)
	assert.LessOrEqual(t, barWidth, time.Minute, "one bar of a 30-minute range")

	// Zoom out doubles the range around its middle.
	p.click("#zoom-out")
	p.waitReady(`document.body.dataset.state === "ready"`)
	from2, to2 := rangeInputs(t, p)
	assert.InDelta(t, 2*barWidth, to2.Sub(from2), float64(2*time.Second))

	// An absolute range typed in: the fixture's March records, of both tenants.
	p.choose("#range", "absolute")
	p.setDate("#range-from", "2026-03-01T11:00:00")
	p.setDate("#range-to", "2026-03-01T13:00:00")
	p.click("#range-apply")
	p.waitReady(rowsExpr + " === 6")
	assert.Equal(t, "6 records, 3 errors or security events", p.text("#stats-total"))
	assert.Equal(t, "2026-03-01 11:00:00 – 2026-03-01 13:00:00 UTC", p.text("#stats-title"))

	// A range with To before From is refused with a message, not sent.
	p.setDate("#range-to", "2026-03-01T10:00:00")
	p.click("#range-apply")
	p.waitFor(`!document.getElementById("error").hidden`)
	assert.Contains(t, p.text("#error"), "To after From")

	// The query is in the address: reloading (or sending the link) shows the same range.
	assert.Contains(t, eval[string](p, `location.hash`), "start=")
	p.do("reload", chromedp.Reload())
	p.waitReady(rowsExpr + " === 6")
	assert.Equal(t, "absolute", eval[string](p, `document.getElementById("range").value`))

	// Back to a preset: the live tail runs again.
	p.choose("#range", "7d")
	p.waitReady(rowsExpr + " === 7")
	p.waitFor(`document.getElementById("live-state").textContent === "live: on"`)

	// Zooming out of a range that ends now doubles it into the past, not into the future.
	p.click("#zoom-out")
	p.waitReady(`document.getElementById("range").value === "absolute"`)
	from, to = rangeInputs(t, p)
	assert.InDelta(t, 14*24*time.Hour, to.Sub(from), float64(time.Minute))
	assert.WithinDuration(t, time.Now().UTC(), to, time.Minute)
	assert.Empty(t, p.consoleErrors())
}

// rangeInputs reads the absolute range the page shows (UTC, to the second).
func rangeInputs(t *testing.T, p *viewerPage) (time.Time, time.Time) {
	t.Helper()
	parse := func(id string) time.Time {
		v := eval[string](p, `document.getElementById("`+id+`").value`)
		// The input drops ":00" seconds.
		for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if ts, err := time.Parse(layout, v); err == nil {
				return ts
			}
		}
		t.Fatalf("%s = %q is not a datetime-local value", id, v)
		return time.Time{}
	}
	return parse("range-from"), parse("range-to")
}

// bulkRecords are n records of tenant, a millisecond apart from start; the first one's
// message is text a spreadsheet would run as a formula, with a comma and quotes.
func bulkRecords(tenant string, start time.Time, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{
			ID: fmt.Sprintf("bulk-%05d", i), Timestamp: start.Add(time.Duration(i) * time.Millisecond),
			Level: record.LevelInfo, Event: "report.row", Message: fmt.Sprintf("row %d", i), TenantID: tenant, UserID: "batch",
			Tags: []string{"bulk", "nightly"}, Attributes: map[string]any{"n": i}, Resource: map[string]any{},
		}
	}
	out[0].Message = `=HYPERLINK("http://evil.test","click"), then "more"`
	return out
}

func TestViewer_TenantSelectorLoadMoreAndExportOfTheCurrentQuery(t *testing.T) {
	s := startLive(t, nil)
	bulk := bulkRecords("initech", fixtureBase.Add(-30*time.Minute), 1205)
	_, err := s.f.store.Insert(context.Background(), "initech", bulk)
	require.NoError(t, err)
	p := openViewer(t, s.base+"/#start="+unixMillis(fixtureBase.Add(-time.Hour))+"&end="+unixMillis(fixtureBase.Add(time.Hour)))
	downloads := t.TempDir()
	p.allowDownloads(downloads)

	// A page of fifty, then the next page.
	p.waitReady(rowsExpr + " === 50")
	assert.Equal(t, "50+ records", p.text("#count"))
	p.click("#load-more")
	p.waitFor(rowsExpr + " === 100")

	// The tenant selector suggests the store's tenants (whoami lists them for an admin);
	// picking one narrows everything to it.
	p.click("#f-tenant")
	p.waitFor(`!document.getElementById("suggest-tenant").hidden`)
	assert.Equal(t, []string{"acme", "globex", "initech"}, eval[[]string](p, `[...document.querySelectorAll("#suggest-tenant li")].map(li => li.textContent)`))
	p.click("#suggest-tenant li:nth-child(2)")
	p.waitReady(rowsExpr + " === 2")
	assert.Equal(t, []string{"globex", "globex"}, p.column(3))
	assert.Equal(t, "2 records, 1 errors or security events", p.text("#stats-total"), "the stats are the tenant's")

	// NDJSON: every record of the query, one JSON object a line, as the API gives them.
	p.click("#export-ndjson")
	p.waitFor(`document.body.dataset.export === "done"`)
	name, body := waitDownload(t, downloads, ".ndjson")
	assert.Equal(t, "audit-globex-20260301T110000-20260301T130000.ndjson", name)
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	require.Len(t, lines, 2)
	var got []string
	for _, l := range lines {
		var rec record.Record
		require.NoError(t, json.Unmarshal([]byte(l), &rec))
		got = append(got, rec.ID)
	}
	assert.Equal(t, []string{s.f.ids["g2"], s.f.ids["g1"]}, got)
	assert.Equal(t, "Exported 2 records to "+name, p.text("#export-status"))

	// CSV of another tenant's 1,205 records: two pages of the API in one file, quoted so that
	// a spreadsheet reads it back and a formula stays text.
	p.typeInto("#f-tenant", "init")
	p.waitFor(`document.querySelectorAll("#suggest-tenant li").length === 1`)
	p.click("#suggest-tenant li:first-child")
	p.waitReady(rowsExpr + ` === 50 && document.getElementById("f-tenant").value === "initech"`)
	p.click("#export-csv")
	p.waitFor(`document.body.dataset.export === "done"`)
	p.shot("export")
	assert.False(t, p.visible("#export-cancel"), "nothing to cancel after the export")
	name, body = waitDownload(t, downloads, ".csv")
	assert.Equal(t, "audit-initech-20260301T110000-20260301T130000.csv", name)
	require.True(t, strings.HasPrefix(body, "\ufeff"), "a byte order mark, so that spreadsheets read UTF-8")
	table, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, table, 1+1205)
	col := map[string]int{}
	for i, h := range table[0] {
		col[h] = i
	}
	last := table[len(table)-1] // oldest last: bulk-00000
	assert.Equal(t, "bulk-00000", last[col["id"]])
	assert.Equal(t, "'"+bulk[0].Message, last[col["message"]], "a formula is kept as text")
	assert.Equal(t, "bulk, nightly", last[col["tags"]])
	assert.Equal(t, `{"n":0}`, last[col["attributes"]])
	assert.Equal(t, "row 1204", table[1][col["message"]], "newest first, as the list")
	assert.Empty(t, p.consoleErrors())
}

func TestViewer_ExportWaitsOutTheRateLimitAndCanBeCancelled(t *testing.T) {
	// Five requests a minute: the page's first load uses four (whoami, logs, stream, stats),
	// the export's first page the fifth, and its second page must wait.
	s := startLive(t, func(c *Config) { c.RateLimit = RateLimitConfig{Requests: 5, Window: time.Minute} })
	_, err := s.f.store.Insert(context.Background(), "initech", bulkRecords("initech", fixtureBase, 4500))
	require.NoError(t, err)
	p := openViewer(t, s.base+"/#start="+unixMillis(fixtureBase.Add(-time.Hour))+"&end="+unixMillis(fixtureBase.Add(time.Hour)))
	p.waitReady(rowsExpr + " === 50")
	p.click("#export-ndjson")
	p.waitFor(`/^Exporting: \d+000 records, waiting for the rate limit…$/.test(document.getElementById("export-status").textContent)`)
	done := p.text("#export-status")[len("Exporting: "):]
	done = done[:strings.Index(done, " ")]
	assert.True(t, eval[bool](p, `document.getElementById("export-ndjson").disabled`), "one export at a time")
	p.click("#export-cancel")
	p.waitFor(`document.body.dataset.export === "cancelled"`)
	assert.Equal(t, "Export cancelled after "+done+" records", p.text("#export-status"))
	p.shot("export-cancelled")
	p.click("#export-dismiss")
	assert.False(t, p.visible("#export-box"))
	assert.False(t, p.visible("#export-cancel"))
	assert.False(t, eval[bool](p, `document.getElementById("export-ndjson").disabled`))
	assert.Empty(t, p.consoleErrors("status of 429"))
}

func TestViewer_MoreFiltersSendOnlyWhatIsFilledIn(t *testing.T) {
	s := startLive(t, nil)
	_, err := s.f.store.Insert(context.Background(), "acme", viewerRecords(time.Now().UTC()))
	require.NoError(t, err)
	p := openViewer(t, s.base+"/")
	p.waitReady(rowsExpr + " === 7")
	assert.False(t, p.visible("#more-filters"), "collapsed at first")

	p.click("#more-toggle")
	assert.True(t, p.visible("#more-filters"))
	assert.Equal(t, "true", eval[string](p, `document.getElementById("more-toggle").getAttribute("aria-expanded")`))
	p.typeInto("#f-company_id", "c-1")
	p.typeInto("#f-tag", "pci")
	assert.Equal(t, "Fewer filters (2)", p.text("#more-toggle"))
	p.shot("more-filters")
	p.click("#apply")
	p.waitReady("true")
	hash := eval[string](p, `location.hash`)
	assert.Contains(t, hash, "company_id=c-1")
	assert.Contains(t, hash, "tag=pci")
	for _, empty := range []string{"employee_id", "entity_type", "scope", "service_name"} {
		assert.NotContains(t, hash, empty+"=", "an empty filter is not sent")
	}
	// A server without these filters refuses them by name (proof that they were sent); one
	// with them answers the filtered list. Either is right here.
	if p.visible("#error") {
		assert.Contains(t, p.text("#error"), "company_id")
	}

	p.click("#reset-filters")
	p.waitReady(rowsExpr + " === 7")
	assert.False(t, p.visible("#error"))
	assert.Zero(t, eval[int](p, `document.querySelectorAll("[aria-invalid=true]").length`), "no field stays marked")
	assert.Empty(t, eval[string](p, `document.getElementById("f-company_id").value + document.getElementById("f-tag").value`))
	assert.Equal(t, "Fewer filters", p.text("#more-toggle"))
	p.click("#more-toggle")
	assert.False(t, p.visible("#more-filters"))
	assert.Equal(t, "More filters", p.text("#more-toggle"))
	assert.Empty(t, p.consoleErrors(failedResources...))
}

func TestViewer_AViewerSeesItsTenantAndNoSelector(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	_, err := s.f.store.Insert(context.Background(), "acme", viewerRecords(time.Now().UTC()))
	require.NoError(t, err)
	_, err = s.f.store.Insert(context.Background(), "globex", liveRecords("globex", "g-now", 0, 3, 0))
	require.NoError(t, err)
	p := openViewer(t, s.base+"/")
	p.waitReady(`!document.getElementById("error").hidden`)
	p.typeInto("#token", sign(t, viewerClaims("alice", "acme")))
	p.click("#token-use")
	p.waitReady(rowsExpr + " === 7")
	assert.Equal(t, "alice · tenant acme", p.text("#who"))
	assert.False(t, p.visible("#f-tenant"), "a viewer has one tenant: nothing to pick")
	assert.Equal(t, []string{"acme"}, slicesCompact(p.column(3)))
	assert.Equal(t, "7 records, 2 errors or security events", p.text("#stats-total"), "globex's records are not counted")
	assert.Empty(t, p.consoleErrors(failedResources...))
}

func slicesCompact(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func TestViewer_WorksWithoutAuthOnLoopbackWithACleanConsole(t *testing.T) {
	s := startLive(t, nil)
	p := openViewer(t, s.base+"/")
	// The fixture's records are from March, outside the default last 24 hours.
	p.waitReady(`!document.getElementById("empty").hidden`)
	p.waitFor(`document.getElementById("live-state").textContent === "live: on"`)
	assert.False(t, p.visible("#error"), "no token is needed on loopback without auth")
	assert.Equal(t, "anonymous · admin", p.text("#who"))

	fresh := liveRecords("globex", "fresh", 0, 1, 0)
	s.ext.publish(fresh)
	p.waitFor(fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, fresh[0].ID))
	assert.False(t, p.visible("#empty"))

	assert.Empty(t, p.consoleErrors(), "no errors or warnings at all (a missing favicon is one)")
	// The icon is the page's own (a missing one is a 404 in the console).
	icon, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`fetch(document.querySelector("link[rel=icon]").href).then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, 200, icon)
}

func TestViewer_OnAPhoneTheFiltersFoldAwayAndRecordsAreCards(t *testing.T) {
	s := startLive(t, nil)
	_, err := s.f.store.Insert(context.Background(), "acme", viewerRecords(time.Now().UTC()))
	require.NoError(t, err)
	p := openViewer(t, s.base+"/")
	p.do("phone", chromedp.EmulateViewport(phoneWidth, 800))
	p.waitReady(rowsExpr + " === 7")

	// The first record is on the first screen, under folded filters.
	eval[bool](p, `(window.scrollTo(0, 0), true)`)
	assert.Less(t, eval[float64](p, `document.querySelector("#records tbody tr:first-child").getBoundingClientRect().bottom`), 800.0,
		"the first record is on the first screen")
	assert.False(t, p.visible("#f-user_id"), "the filters are folded")
	assert.False(t, p.visible("#records thead"), "records are cards, without a table header")

	p.click("#filters-toggle")
	assert.True(t, p.visible("#f-user_id"))
	assert.Equal(t, "true", eval[string](p, `document.getElementById("filters-toggle").getAttribute("aria-expanded")`))
	p.typeInto("#f-user_id", "bob")
	p.click("#apply")
	p.waitReady(rowsExpr + " === 3")
	assert.Equal(t, "▾ Filters (1 in use)", p.text("#filters-toggle"))
	p.click("#filters-toggle")
	assert.False(t, p.visible("#f-user_id"))
	assert.Equal(t, "▸ Filters (1 in use)", p.text("#filters-toggle"), "folded, it still says a filter is on")

	// A record opens below the list and is scrolled into view.
	p.click("#records tbody tr:first-child")
	p.waitFor(`!document.getElementById("detail").hidden`)
	p.waitFor(`Math.abs(document.getElementById("detail").getBoundingClientRect().top) < 5`)
	assert.Empty(t, eval[[]string](p, layoutProblemsJS+"(false)"))
	assert.Empty(t, p.consoleErrors())
}

package auditqueryextension

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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

func TestViewer_InHeadlessChromium(t *testing.T) {
	ctx := browser(t)
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	now := time.Now().UTC()
	recs := viewerRecords(now)
	_, err := s.f.store.Insert(context.Background(), "acme", recs)
	require.NoError(t, err)
	s.ext.publish(recs) // as the exporter does after the commit; nobody listens yet
	admin := sign(t, adminClaims("root"))

	rows := `document.querySelectorAll("#records tbody tr[data-id]").length`
	poll := func(expr string) chromedp.Action[bool] {
		return chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}

	// Without a token the API answers 401 and the page says so.
	run("load the page",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#error")),
		ignore(poll(`document.body.dataset.state === "ready"`)),
	)
	errText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error")))
	require.NoError(t, err)
	assert.Contains(t, errText, "Not signed in")

	// With the token (kept in sessionStorage, sent as Bearer and, for the stream, access_token).
	run("sign in",
		chromedp.SetValue(chromedp.CSS("#token"), admin),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		ignore(poll(`document.body.dataset.state === "ready" && `+rows+` === 6 + 7`)), // the fixture's six and these seven
	)
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("auditquery.token")`))
	require.NoError(t, err)
	assert.Equal(t, admin, stored)
	first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#records tbody tr:first-child td.msg")))
	require.NoError(t, err)
	assert.Equal(t, "invoice 1042 not cached", first, "newest first")

	// A filter narrows the list (and the live tail).
	run("filter by user",
		chromedp.SetValue(chromedp.CSS("#f-user_id"), "bob"),
		chromedp.Click(chromedp.CSS("#apply")),
		// Ready: the list, the stream and the stats have all been read.
		ignore(poll(`document.body.dataset.state === "ready" && `+rows+` === 5`)), // three here, two in the fixture
		ignore(poll(`document.getElementById("live-state").textContent === "live: on"`)),
	)
	users, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#records tbody tr td:nth-child(5)")].map(td => td.textContent)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"bob", "bob", "bob", "bob", "bob"}, users)

	// A record published after the page loaded appears at the top; one of another user does not.
	live := viewerRecords(time.Now().UTC())[4]
	live.ID, live.Message, live.TraceID, live.SpanID = record.NewID(), "bob retried the payment", "", ""
	other := viewerRecords(time.Now().UTC())[0]
	other.ID = record.NewID()
	_, err = s.f.store.Insert(context.Background(), "acme", []record.Record{other, live})
	require.NoError(t, err)
	s.ext.publish([]record.Record{other, live})
	run("see the live record",
		ignore(poll(fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, live.ID))),
	)
	count, err := chromedp.Run(ctx, chromedp.Evaluate[int](rows))
	require.NoError(t, err)
	assert.Equal(t, 6, count, "the live tail applies the filter: alice's record is not shown")

	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("load-more")).display === "none"`))
	require.NoError(t, err)
	assert.True(t, hidden, "one page holds every match: no load more button")

	// Paused, the tail holds new records back and counts them; resumed, it shows them.
	held := live
	held.ID, held.Message = record.NewID(), "bob gave up"
	run("pause", chromedp.Click(chromedp.CSS("#live-toggle")))
	s.ext.publish([]record.Record{held})
	run("count while paused", ignore(poll(`document.getElementById("live-pending").textContent === "1 new"`)))
	count, err = chromedp.Run(ctx, chromedp.Evaluate[int](rows))
	require.NoError(t, err)
	assert.Equal(t, 6, count, "nothing is added while paused")
	run("resume",
		chromedp.Click(chromedp.CSS("#live-toggle")),
		ignore(poll(fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, held.ID))),
	)

	// The detail view shows the fields and the attributes as JSON; the trace view orders the
	// trace's records with their offsets.
	run("open a record and its trace",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#records tbody tr[data-id=%q]`, recs[3].ID))),
		chromedp.WaitVisible(chromedp.CSS("#detail")),
		chromedp.Click(chromedp.CSS("#show-trace")),
		chromedp.WaitVisible(chromedp.CSS("#trace")),
		ignore(poll(`document.querySelectorAll("#trace-list li").length === 3`)),
	)
	attrs, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#detail-attributes")))
	require.NoError(t, err)
	assert.Contains(t, attrs, `"http.route": "/invoices/{id}"`, "attributes are pretty-printed JSON")
	fields, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#detail-fields")))
	require.NoError(t, err)
	assert.Contains(t, fields, "total changed by more than 10%")
	offsets, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#trace-list .offset")].map(e => e.textContent)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"+0 ms", "+120 ms", "+480 ms"}, offsets)

	// Stats of the last 24 hours: every record of the store, by level.
	run("stats", chromedp.WaitVisible(chromedp.CSS("#stats")))
	total, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#stats-total")))
	require.NoError(t, err)
	assert.Contains(t, total, "7 records, 2 errors or security events", "read when the filter was applied, before the live records")

	// Reset clears every filter: the list holds every stored record again (the fixture's six,
	// these seven and the two inserted while filtered; the held one was only published).
	run("reset the filters",
		chromedp.Click(chromedp.CSS("#reset-filters")),
		ignore(poll(`document.body.dataset.state === "ready" && `+rows+` === 15`)),
	)
	user, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("f-user_id").value`))
	require.NoError(t, err)
	assert.Empty(t, user, "the user filter is cleared")

	// The whole page, so that the stats panel below the trace is in the picture too. Quality
	// 100 makes it a PNG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(png), 10_000, "a real screenshot")
	require.Equal(t, "\x89PNG", string(png[:4]))
	dir, err := os.MkdirTemp("", "auditquery-viewer-")
	require.NoError(t, err)
	path := filepath.Join(dir, "viewer.png")
	require.NoError(t, os.WriteFile(path, png, 0o600))
	t.Logf("screenshot: %s", path)
}

// ignore drops an action's result so it can run in a Do sequence.
func ignore[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, tg)
		return chromedp.Void{}, err
	}
}

func TestViewer_WorksWithoutAuthOnLoopback(t *testing.T) {
	ctx := browser(t)
	s := startLive(t, nil)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/"),
		ignore(chromedp.Poll[bool](`document.querySelectorAll("#records tbody tr[data-id]").length === 6 &&
			document.getElementById("live-state").textContent === "live: on"`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))),
	))
	errHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("error").hidden`))
	require.NoError(t, err)
	assert.True(t, errHidden, "no token is needed on loopback without auth")

	fresh := liveRecords("globex", "fresh", 0, 1, 0)
	s.ext.publish(fresh)
	require.NoError(t, chromedp.Do(ctx, ignore(chromedp.Poll[bool](
		fmt.Sprintf(`document.querySelector("#records tbody tr:first-child")?.dataset.id === %q`, fresh[0].ID),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))))
}

package auditqueryextension

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Widths the viewer must work at: a common laptop and a small phone.
const (
	desktopWidth = 1280
	phoneWidth   = 390
)

// viewerPage drives the viewer in headless Chromium the way a person does: clicks, typing and
// drags, with helpers that wait for the page to settle and that check the layout.
type viewerPage struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func openViewer(t *testing.T, url string) *viewerPage {
	t.Helper()
	p := &viewerPage{t: t, ctx: browser(t)}
	// Subscribed before the page loads so that nothing it logs is lost.
	messages := chromedp.Console(p.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	p.do("open the viewer",
		chromedp.EmulateViewport(desktopWidth, 900),
		chromedp.Navigate(url),
	)
	p.waitReady("true")
	return p
}

func (p *viewerPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, steps...), what)
}

// eval runs expr in the page and decodes its value.
func eval[T any](p *viewerPage, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	require.NoError(p.t, err, "evaluate %s", expr)
	return v
}

// waitFor polls until expr is true; on timeout the failure shows what the page displays.
func (p *viewerPage) waitFor(expr string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		shown, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
		p.t.Fatalf("waiting for %s: %v\npage text:\n%s", expr, err, shown)
	}
}

// waitReady waits until the page finished a refresh and cond holds.
func (p *viewerPage) waitReady(cond string) {
	p.t.Helper()
	p.waitFor(`document.body.dataset.state === "ready" && (` + cond + `)`)
}

func (p *viewerPage) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeInto clicks an input, selects what it holds and types text over it key by key, as a
// person does.
func (p *viewerPage) typeInto(sel, text string) {
	p.t.Helper()
	p.click(sel)
	eval[bool](p, fmt.Sprintf(`(document.querySelector(%q).select(), true)`, sel))
	p.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
	require.Equal(p.t, text, eval[string](p, fmt.Sprintf(`document.querySelector(%q).value`, sel)), "typed into %s", sel)
}

// choose picks an option of a select: what a person's pick does, setting the value and
// firing change (the native option list is not part of the page, so it cannot be clicked).
func (p *viewerPage) choose(sel, value string) {
	p.t.Helper()
	p.do("focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
	ok := eval[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector(%q);
		if (![...s.options].some(o => o.value === %q)) return false;
		s.value = %q; s.dispatchEvent(new Event("input", {bubbles: true})); s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value, value))
	require.True(p.t, ok, "%s has an option %q", sel, value)
}

// setDate fills a datetime-local input as its picker does (the picker is not part of the page).
func (p *viewerPage) setDate(sel, value string) {
	p.t.Helper()
	p.do("focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
	got := eval[string](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, sel, value))
	require.NotEmpty(p.t, got, "%s accepts %q", sel, value)
}

func (p *viewerPage) text(sel string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? "<absent>"`, sel))
}

func (p *viewerPage) visible(sel string) bool {
	p.t.Helper()
	return eval[bool](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
		const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden"; })()`, sel))
}

// rows is the number of records the list shows.
const rowsExpr = `document.querySelectorAll("#records tbody tr[data-id]").length`

func (p *viewerPage) rows() int { p.t.Helper(); return eval[int](p, rowsExpr) }

func (p *viewerPage) column(n int) []string {
	p.t.Helper()
	return eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll("#records tbody tr[data-id] td:nth-child(%d)")].map(td => td.textContent)`, n))
}

// rect is an element's box in CSS pixels of the viewport.
type rect struct{ Left, Top, Width, Height float64 }

func (p *viewerPage) rect(sel string) rect {
	p.t.Helper()
	s := eval[string](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect(); return JSON.stringify({Left: r.left, Top: r.top, Width: r.width, Height: r.height}); })()`, sel))
	var r rect
	require.NoError(p.t, json.Unmarshal([]byte(s), &r))
	return r
}

// layoutProblemsJS lists what a person would see as broken: a page that scrolls sideways,
// controls cut off at the edge of the screen, button labels that wrap, and (wide) toolbar rows
// that wrap onto a second line.
const layoutProblemsJS = `((wide) => {
  const w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) out.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + w);
  const name = (e) => e.id || e.getAttribute("name") || e.textContent.trim().slice(0, 24);
  for (const e of document.querySelectorAll("header *, .toolbar *, .filters *, .histogram *, .live *, .panel *, #load-more, #empty")) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not shown
    if (r.left < -0.5 || r.right > w + 0.5) out.push(name(e) + " is cut off: " + Math.round(r.left) + ".." + Math.round(r.right) + " of " + w);
  }
  for (const b of document.querySelectorAll("button")) {
    const r = b.getBoundingClientRect();
    if (r.height > 36) out.push("the label of button " + name(b) + " wraps (" + Math.round(r.height) + " px high)");
  }
  if (wide) {
    for (const sel of [".toolbar", ".filters", ".bar"]) {
      const kids = [...document.querySelector(sel).children].filter(k => k.id !== "more-filters" && k.getBoundingClientRect().height > 0);
      // On one line every box overlaps every other vertically.
      const tops = kids.map(k => k.getBoundingClientRect().top), bottoms = kids.map(k => k.getBoundingClientRect().bottom);
      if (Math.max(...tops) >= Math.min(...bottoms)) out.push(sel + " wraps onto a second line: " + kids.map(k => name(k) + "@" + Math.round(k.getBoundingClientRect().bottom)).join(", "));
    }
  }
  return out;
})`

// screenshotDir keeps the screenshots when VIEWER_SCREENSHOTS names a directory, for a person
// to look at; otherwise they go to the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("VIEWER_SCREENSHOTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// shot checks the layout and takes a full-page screenshot of the current state at the desktop
// and the phone width, then returns to the desktop width.
func (p *viewerPage) shot(name string) {
	p.t.Helper()
	dir := screenshotDir(p.t)
	for _, w := range []int64{desktopWidth, phoneWidth} {
		p.do("resize", chromedp.EmulateViewport(w, 900), chromedp.Sleep(150*time.Millisecond))
		// Saved first, so that a layout failure can be looked at.
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		require.NoError(p.t, err)
		require.Equal(p.t, "\x89PNG", string(png[:4]))
		require.NoError(p.t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o600))
		if w == phoneWidth {
			// What the phone shows first, at a size a person can read.
			eval[bool](p, `(window.scrollTo(0, 0), true)`)
			screen, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
			require.NoError(p.t, err)
			require.NoError(p.t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d-screen.png", name, w)), screen, 0o600))
		}
		problems := eval[[]string](p, fmt.Sprintf("%s(%t)", layoutProblemsJS, w == desktopWidth))
		require.Empty(p.t, problems, "layout of %q at %d px", name, w)
	}
	p.do("resize back", chromedp.EmulateViewport(desktopWidth, 900), chromedp.Sleep(100*time.Millisecond))
}

// consoleErrors are the page's errors and warnings, less those allowed (a request the test
// made fail on purpose shows as a failed resource).
func (p *viewerPage) consoleErrors(allowed ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
next:
	for _, m := range p.console {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
			continue
		}
		text := m.String() + " " + m.URL
		for _, a := range allowed {
			if strings.Contains(text, a) {
				continue next
			}
		}
		out = append(out, text)
	}
	return out
}

// allowDownloads saves the page's downloads in dir under the names the page gives them.
func (p *viewerPage) allowDownloads(dir string) {
	p.t.Helper()
	p.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		})
		return err
	}))
}

// waitDownload waits for a finished file ending in suffix in dir and returns its name and text.
func waitDownload(t *testing.T, dir, suffix string) (string, string) {
	t.Helper()
	var name string
	require.Eventually(t, func() bool {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) {
				name = e.Name()
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "a %s file downloaded into %s", suffix, dir)
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return name, string(b)
}

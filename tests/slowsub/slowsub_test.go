// Package slowsub proves that a slow live-tail subscriber cannot hurt the write path: the real
// collector takes a steady OTLP/HTTP load while one subscriber reads its stream continuously and
// two others fall behind (one reads SSE a few kilobytes at a time, one stops reading a WebSocket
// for seconds). The fast one must see every record, the slow ones a "lagged" notice that
// accounts exactly for what they missed, and ingest must neither stall nor lose a record.
package slowsub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

const (
	// The load: totalRecords at loadRate, in requests of batchSize records from senders.
	loadRate     = 1000
	totalRecords = 25_000
	batchSize    = 50
	senders      = 4
	// bufferSize is each stream's queue (stream.buffer_size). The exporter publishes a
	// committed batch (at most maxBatch records) at once, so even a subscriber that keeps up
	// needs room for a few batches (the default 256 is smaller than one batch of the default
	// configuration's 1,000); 8192 is eight seconds of this load, slack for a busy CI machine
	// running a race-instrumented reader, and the queue a slow subscriber overflows.
	bufferSize = 8192
	maxBatch   = 200
	// The SSE subscriber reads at most slowChunk bytes every slowPause during its slow phase
	// (about 40 KB/s, some 40 records/s against 1,000 published); the WebSocket one reads
	// nothing for wsPause. Socket buffers hold about 2,000 of these records, so a pause must
	// exceed (bufferSize + 2,000) / loadRate to overflow the queue, and stay under the stream's
	// write_timeout, after which the server disconnects a client that takes nothing: the
	// default 10s is raised to 30s here, so that the pause can be long enough.
	slowPhase = 16 * time.Second
	slowChunk = 4096
	slowPause = 100 * time.Millisecond
	wsPause   = 15 * time.Second
	// rssBudget bounds the collector's growth over its idle RSS (measured at about 40 MiB, and
	// about +100 MiB at the peak of this test on a 2-core machine). What it may legitimately hold:
	// the three stream queues, at most 3 x 8,192 records (shared where the queues overlap), each
	// with its cached JSON, about 3 KiB a record here: at most 72 MiB; the exporter's queue, at
	// most max_queue_bytes (16 MiB; the rest waits in the WAL); SQLite's page cache, 16 MiB per connection; and Go's heap
	// headroom. The exact proof that a slow subscriber's records are dropped rather than held is
	// the lag accounting below (received + skipped = acknowledged); this bound is the guard that
	// nothing else grows with the load.
	rssBudget = 200 << 20
)

func config(httpPort, queryPort int, dataDir string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    sqlite:
      path: %[4]s
  auditquery:
    endpoint: 127.0.0.1:%[2]d
    rate_limit:
      requests: 0
    stream:
      buffer_size: %[5]d
      write_timeout: 30s
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
processors:
  redact: {}
exporters:
  audit:
    mode: durable
    data_dir: %[3]s
    batch:
      max_size: %[6]d
      flush_interval: 200ms
    max_queue_bytes: 16777216
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      processors: [redact]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, httpPort, queryPort, dataDir, filepath.Join(dataDir, "audit.db"), bufferSize, maxBatch)
}

// subscriber counts what one stream delivered.
type subscriber struct {
	name     string
	mu       sync.Mutex
	ids      map[string]int
	lagged   int   // lagged notices
	skipped  int64 // records they say were lost
	firstLag int   // records received before the first notice
	closed   string
	err      error
}

func newSubscriber(name string) *subscriber {
	return &subscriber{name: name, ids: map[string]int{}, firstLag: -1}
}

// message handles one stream message: a record (has "id", no "type") or a control message.
func (s *subscriber) message(data []byte) error {
	var m struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Skipped int64  `json:"skipped"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: undecodable message %.200q: %w", s.name, data, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m.Type {
	case "":
		if m.ID == "" {
			return fmt.Errorf("%s: a record without id: %.200s", s.name, data)
		}
		s.ids[m.ID]++
	case "lagged":
		if s.firstLag < 0 {
			s.firstLag = len(s.ids)
		}
		s.lagged++
		s.skipped += m.Skipped
	case "closed":
		s.closed = m.Reason
	default:
		return fmt.Errorf("%s: unknown message type %q", s.name, m.Type)
	}
	return nil
}

// snapshot is the records received, the records the notices say were lost, and the notices.
func (s *subscriber) snapshot() (received int, skipped int64, lagged int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids), s.skipped, s.lagged
}

func (s *subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *subscriber) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// readWebSocket reads conn until ctx ends; pause, when positive, is a stretch at the start
// during which nothing is read at all.
func readWebSocket(ctx context.Context, conn *websocket.Conn, s *subscriber, pause time.Duration) {
	if pause > 0 {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.fail(fmt.Errorf("%s: read: %w", s.name, err))
			}
			return
		}
		if err := s.message(data); err != nil {
			s.fail(err)
			return
		}
	}
}

// throttledReader hands out at most chunk bytes per Read, sleeping pause before each, until
// slowUntil; then it reads at full speed.
type throttledReader struct {
	r         io.Reader
	chunk     int
	pause     time.Duration
	slowUntil time.Time
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if time.Now().Before(t.slowUntil) {
		time.Sleep(t.pause)
		if len(p) > t.chunk {
			p = p[:t.chunk]
		}
	}
	return t.r.Read(p)
}

// readSSE parses Server-Sent Events from body until it ends.
func readSSE(ctx context.Context, body io.Reader, s *subscriber) {
	r := bufio.NewReader(body)
	var data []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if ctx.Err() == nil {
				s.fail(fmt.Errorf("%s: read: %w", s.name, err))
			}
			return
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case len(line) == 0:
			if data != nil {
				if err := s.message(data); err != nil {
					s.fail(err)
					return
				}
				data = nil
			}
		case bytes.HasPrefix(line, []byte("data: ")):
			data = bytes.Clone(line[len("data: "):])
		}
	}
}

// openSSE opens an SSE stream and waits for its ": connected" line, after which the server has
// subscribed it to the live feed.
func openSSE(ctx context.Context, t *testing.T, url string) (io.ReadCloser, *bufio.Reader) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.FailNowf(t, "SSE stream refused", "SSE stream answered %s: %s", resp.Status, b)
	}
	br := bufio.NewReaderSize(resp.Body, 64)
	line, err := br.ReadString('\n')
	require.NoError(t, err, "SSE stream began with %q", line)
	require.Equal(t, ": connected\n", line, "SSE stream's first line")
	return resp.Body, br
}

// loadResult is what the senders saw.
type loadResult struct {
	mu        sync.Mutex
	acked     []string
	refused   int
	lastErr   error
	latencies []time.Duration
	elapsed   time.Duration
}

// sendLoad sends totalRecords records with ids slowsub-<n> as OTLP/HTTP JSON, paced to loadRate
// over senders; each request's records are acknowledged when it is answered 2xx.
func sendLoad(ctx context.Context, url string) *loadResult {
	res := &loadResult{}
	client := &http.Client{Timeout: 30 * time.Second}
	requests := totalRecords / batchSize
	interval := time.Duration(float64(batchSize) / loadRate * float64(time.Second))
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				slot := int(next.Add(1) - 1)
				if slot >= requests || ctx.Err() != nil {
					return
				}
				if wait := time.Until(start.Add(time.Duration(slot) * interval)); wait > 0 {
					time.Sleep(wait)
				}
				ids, body := buildRequest(slot)
				began := time.Now()
				err := post(ctx, client, url, body)
				took := time.Since(began)
				res.mu.Lock()
				if err != nil {
					res.refused += len(ids)
					res.lastErr = err
				} else {
					res.acked = append(res.acked, ids...)
					res.latencies = append(res.latencies, took)
				}
				res.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

var tenants = []string{"acme", "globex", "initech"}

// buildRequest is request slot's batch: audit records with ids, tenants, users and a few
// attributes, about 1 KiB each as JSON.
func buildRequest(slot int) ([]string, []byte) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "slowsub")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := time.Now()
	ids := make([]string, batchSize)
	for i := range batchSize {
		n := slot*batchSize + i
		ids[i] = fmt.Sprintf("slowsub-%08d", n)
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetEventName("document.view")
		lr.Body().SetStr(fmt.Sprintf("user %d opened document %d from the reports page of the billing console", n%97, n))
		a := lr.Attributes()
		a.PutStr("audit.id", ids[i])
		a.PutStr("tenant.id", tenants[n%len(tenants)])
		a.PutStr("user.id", fmt.Sprintf("user-%03d", n%97))
		a.PutStr("client.address", fmt.Sprintf("10.0.%d.%d", n%256, n%13))
		a.PutStr("url.path", "/api/v1/documents/"+strconv.Itoa(n))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
		for k := range 8 {
			a.PutStr(fmt.Sprintf("app.field_%d", k), fmt.Sprintf("value %d of record %d", k, n))
		}
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if err != nil {
		panic(err) // pdata always marshals
	}
	return ids, body
}

func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, answer)
	}
	// A partial success rejects records inside a 2xx: those are not acknowledged.
	er := plogotlp.NewExportResponse()
	if len(answer) > 0 {
		if err := er.UnmarshalJSON(answer); err != nil {
			return fmt.Errorf("undecodable answer %q: %w", answer, err)
		}
	}
	if n := er.PartialSuccess().RejectedLogRecords(); n > 0 {
		return fmt.Errorf("partial success: %d records rejected: %s", n, er.PartialSuccess().ErrorMessage())
	}
	return nil
}

// readRSS is VmRSS (or another "<key>: <n> kB" line of /proc/<pid>/status) in bytes.
func readRSS(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// waitFor polls cond every 200ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func TestSlowLiveTailSubscriberUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector under 25 s of load; skipped with -short")
	}
	testStart := time.Now()
	dataDir := t.TempDir()
	httpPort, queryPort := collectortest.FreePort(t), collectortest.FreePort(t)
	proc := collectortest.Start(t, config(httpPort, queryPort, dataDir))
	base := fmt.Sprintf("http://127.0.0.1:%d", queryPort)
	proc.WaitReady(t, base+"/api/v1/health", 60*time.Second)
	pid := proc.Cmd.Process.Pid
	idleRSS, err := readRSS(pid, "VmRSS")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streamURL := base + "/api/v1/stream"

	// The fast subscriber: a WebSocket read continuously.
	fast := newSubscriber("fast websocket")
	fastConn, _, err := websocket.Dial(ctx, strings.Replace(streamURL, "http://", "ws://", 1), nil)
	require.NoError(t, err, "fast subscriber")
	defer fastConn.CloseNow()
	fastConn.SetReadLimit(1 << 20)
	// The WebSocket that stops reading for wsPause, then reads at full speed.
	pausedWS := newSubscriber("paused websocket")
	pausedConn, _, err := websocket.Dial(ctx, strings.Replace(streamURL, "http://", "ws://", 1), nil)
	require.NoError(t, err, "paused subscriber")
	defer pausedConn.CloseNow()
	pausedConn.SetReadLimit(1 << 20)
	// The SSE stream read a few kilobytes at a time for slowPhase, then at full speed.
	slowSSE := newSubscriber("slow sse")
	sseBody, sseBuffered := openSSE(ctx, t, streamURL)
	defer sseBody.Close()

	var readers sync.WaitGroup
	readers.Add(3)
	go func() { defer readers.Done(); readWebSocket(ctx, fastConn, fast, 0) }()
	go func() { defer readers.Done(); readWebSocket(ctx, pausedConn, pausedWS, wsPause) }()
	go func() {
		defer readers.Done()
		slow := &throttledReader{r: sseBuffered, chunk: slowChunk, pause: slowPause, slowUntil: time.Now().Add(slowPhase)}
		readSSE(ctx, slow, slowSSE)
	}()

	// Progress, for whoever reads a failure: what each stream has seen against what is stored.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(5 * time.Second)
			var stats struct {
				Total int64 `json:"total"`
			}
			if resp, err := http.Get(base + "/api/v1/stats"); err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&stats)
				resp.Body.Close()
			}
			a, _, _ := fast.snapshot()
			b, bs, _ := pausedWS.snapshot()
			c, cs, _ := slowSSE.snapshot()
			if ctx.Err() == nil {
				t.Logf("progress: stored %d; fast %d; paused %d received + %d skipped; slow sse %d + %d", stats.Total, a, b, bs, c, cs)
			}
		}
	}()
	// The collector's resident set, sampled while everything runs.
	var peakRSS atomic.Int64
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		for ctx.Err() == nil {
			if rss, err := readRSS(pid, "VmRSS"); err == nil && rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()

	// The load must finish in its planned 25 s, with a generous margin for a busy machine: a
	// write path blocked by a subscriber would not finish at all.
	planned := time.Duration(totalRecords/loadRate) * time.Second
	loadCtx, loadCancel := context.WithTimeout(ctx, planned+60*time.Second)
	load := sendLoad(loadCtx, fmt.Sprintf("http://127.0.0.1:%d/v1/logs", httpPort))
	loadCancel()
	acked := len(load.acked)
	t.Logf("load: %d records acknowledged, %d refused in %s (%.0f records/s; planned %d/s), ack p50 %s p99 %s max %s",
		acked, load.refused, load.elapsed.Round(time.Millisecond), float64(acked)/load.elapsed.Seconds(), loadRate,
		quantile(load.latencies, 0.5).Round(time.Microsecond), quantile(load.latencies, 0.99).Round(time.Microsecond),
		quantile(load.latencies, 1).Round(time.Microsecond))
	loadMsg := "the load did not finish: %d of %d records acknowledged, %d refused (last error: %v)"
	require.Equal(t, totalRecords, acked, loadMsg, acked, totalRecords, load.refused, load.lastErr)
	require.Zero(t, load.refused, loadMsg, acked, totalRecords, load.refused, load.lastErr)

	// Every acknowledged record is committed and then published: the fast subscriber must
	// reach them all, and each slow one must account for them all (received + skipped).
	fastDone := waitFor(60*time.Second, func() bool { n, _, _ := fast.snapshot(); return n >= acked || fast.failure() != nil })
	if !fastDone {
		// Nothing more will come: a goroutine dump (SIGQUIT) of the collector says where it stands.
		_ = proc.Cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(3 * time.Second)
		n, _, _ := fast.snapshot()
		require.FailNowf(t, "the fast subscriber fell behind", "the fast subscriber received %d of %d acknowledged records within 60s of the load's end (failure: %v); collector goroutines:\n%s",
			n, acked, fast.failure(), proc.Output.String())
	}
	accounted := func(s *subscriber) func() bool {
		return func() bool { n, sk, _ := s.snapshot(); return int64(n)+sk >= int64(acked) || s.failure() != nil }
	}
	slowDone := waitFor(60*time.Second, accounted(slowSSE))
	pausedDone := waitFor(30*time.Second, accounted(pausedWS))

	// The collector is healthy while the streams are open.
	healthResp, err := http.Get(base + "/api/v1/health")
	require.NoError(t, err)
	var health struct {
		Status string `json:"status"`
		Store  string `json:"store"`
	}
	err = json.NewDecoder(healthResp.Body).Decode(&health)
	healthResp.Body.Close()
	healthMsg := "health after the load: %s %+v, want 200 status ok, store ok"
	assert.NoError(t, err, healthMsg, healthResp.Status, health)
	assert.Equal(t, http.StatusOK, healthResp.StatusCode, healthMsg, healthResp.Status, health)
	assert.Equal(t, "ok", health.Status, healthMsg, healthResp.Status, health)
	assert.Equal(t, "ok", health.Store, healthMsg, healthResp.Status, health)
	hwm, err := readRSS(pid, "VmHWM")
	require.NoError(t, err)

	cancel()
	fastConn.CloseNow()
	pausedConn.CloseNow()
	sseBody.Close()
	readers.Wait()
	<-sampling

	for _, s := range []*subscriber{fast, pausedWS, slowSSE} {
		n, sk, lg := s.snapshot()
		t.Logf("%s: %d records received, %d lagged notices, %d records skipped (first notice after %d records), received + skipped = %d of %d",
			s.name, n, lg, sk, s.firstLag, int64(n)+sk, acked)
	}
	t.Logf("collector RSS: idle %d MiB, peak sampled %d MiB, VmHWM %d MiB (bound: idle + %d MiB = %d MiB)",
		idleRSS>>20, peakRSS.Load()>>20, hwm>>20, rssBudget>>20, (idleRSS+rssBudget)>>20)

	ackedSet := make(map[string]bool, acked)
	for _, id := range load.acked {
		ackedSet[id] = true
	}

	// The fast subscriber: every acknowledged record once, nothing else, no notice.
	assert.NoError(t, fast.failure(), "fast subscriber")
	n, sk, lg := fast.snapshot()
	fastMsg := "fast subscriber received %d of %d records with %d lagged notices (%d skipped); a subscriber that keeps up must receive all"
	assert.True(t, fastDone, fastMsg, n, acked, lg, sk)
	assert.Equal(t, acked, n, fastMsg, n, acked, lg, sk)
	assert.Zero(t, lg, fastMsg, n, acked, lg, sk)
	assert.Zero(t, sk, fastMsg, n, acked, lg, sk)
	for id, c := range fast.ids {
		if !assert.True(t, ackedSet[id] && c == 1, "fast subscriber received %s %d times (acknowledged: %v)", id, c, ackedSet[id]) {
			break
		}
	}

	// The slow subscribers: told they lagged, and the notices account for exactly what is missing.
	for _, c := range []struct {
		s    *subscriber
		done bool
	}{{slowSSE, slowDone}, {pausedWS, pausedDone}} {
		s := c.s
		if !assert.NoError(t, s.failure(), s.name) {
			continue
		}
		n, sk, lg := s.snapshot()
		if !assert.True(t, lg != 0 && sk != 0, "%s received %d of %d records and no lagged notice: it did not fall behind, the test proved nothing", s.name, n, acked) {
			continue
		}
		assert.True(t, c.done, "%s: %d received + %d skipped = %d, want the %d acknowledged", s.name, n, sk, int64(n)+sk, acked)
		assert.Equal(t, int64(acked), int64(n)+sk, "%s: %d received + %d skipped, want the acknowledged", s.name, n, sk)
		assert.Empty(t, s.closed, "%s was closed by the server", s.name)
		for id, c := range s.ids {
			if !assert.True(t, ackedSet[id] && c == 1, "%s received %s %d times (acknowledged: %v)", s.name, id, c, ackedSet[id]) {
				break
			}
		}
	}

	// Memory stays bounded: the slow subscribers' missing records were dropped, not buffered.
	assert.LessOrEqual(t, hwm, idleRSS+rssBudget, "collector peak RSS %d MiB is over idle %d MiB + budget %d MiB", hwm>>20, idleRSS>>20, rssBudget>>20)

	// Ingest: a clean stop, and every acknowledged record in SQLite exactly once.
	assert.Zero(t, proc.Stop(t, syscall.SIGTERM, 60*time.Second), "the collector's exit code on SIGTERM")
	stored := collectortest.StoredIDs(t, filepath.Join(dataDir, "audit.db"))
	missing, dup := 0, 0
	for id := range ackedSet {
		switch stored[id] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	t.Logf("store: %d rows, %d of %d acknowledged missing, %d duplicated; test wall time %s",
		len(stored), missing, acked, dup, time.Since(testStart).Round(time.Millisecond))
	storeMsg := "store holds %d ids; %d acknowledged records missing, %d duplicated"
	assert.Zero(t, missing, storeMsg, len(stored), missing, dup)
	assert.Zero(t, dup, storeMsg, len(stored), missing, dup)
	assert.Len(t, stored, acked, storeMsg, len(stored), missing, dup)
}

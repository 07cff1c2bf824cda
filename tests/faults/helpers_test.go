// Package faults runs the real collector through the faults an audit pipeline must survive: the
// disk under its write-ahead log filling up, and its ClickHouse store unreachable for minutes.
// Each test asserts what a sender and an operator are promised (a clear error, no crash, zero
// loss of acknowledged records, bounded memory) and logs the figures. README.md says how to run
// the long versions.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// needCapability skips a test whose environment lacks something it needs, except under CI,
// where a missing capability means the test would silently prove nothing.
func needCapability(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "" {
		t.Skip(msg)
	}
	require.FailNow(t, msg+" (CI must provide it)")
}

// auditBatch is one OTLP/HTTP JSON request of audit records of a single tenant, so that the
// exporter keeps it whole (a request spilled to the DLQ becomes one file per tenant).
type auditBatch struct {
	body []byte
	ids  []string
}

// newAuditBatch builds n realistic records: a dozen attributes, a trace id, and a message of
// about bodyBytes bytes, each with an audit.id of prefix and a sequence number.
func newAuditBatch(prefix, tenant string, first, n, bodyBytes int) auditBatch {
	filler := strings.Repeat("x", max(bodyBytes-48, 0))
	now := time.Now().UnixNano()
	str := func(k, v string) map[string]any {
		return map[string]any{"key": k, "value": map[string]any{"stringValue": v}}
	}
	num := func(k string, v int) map[string]any {
		return map[string]any{"key": k, "value": map[string]any{"intValue": strconv.Itoa(v)}}
	}
	b := auditBatch{ids: make([]string, n)}
	records := make([]map[string]any, n)
	for i := range n {
		seq := first + i
		id := fmt.Sprintf("%s-%09d", prefix, seq)
		b.ids[i] = id
		records[i] = map[string]any{
			"timeUnixNano":   strconv.FormatInt(now+int64(i), 10),
			"severityNumber": 9,
			"severityText":   "INFO",
			"eventName":      "document.updated",
			"traceId":        fmt.Sprintf("%016x%016x", seq, now),
			"spanId":         fmt.Sprintf("%016x", seq+1),
			"body":           map[string]any{"stringValue": fmt.Sprintf("record %d updated a document %s", seq, filler)},
			"attributes": []map[string]any{
				str("audit.id", id), str("tenant.id", tenant),
				str("user.id", fmt.Sprintf("u-%d", seq%97)), str("user.name", fmt.Sprintf("user%d", seq%97)),
				str("client.address", fmt.Sprintf("192.0.2.%d", seq%250+1)), str("user_agent.original", "faults-test/1.0"),
				str("http.request.method", "PUT"), str("url.path", fmt.Sprintf("/api/documents/%d", seq%1000)),
				num("http.response.status_code", 200), str("audit.entity_type", "document"),
				str("audit.entity_id", fmt.Sprintf("doc-%d", seq%1000)), str("audit.company_id", "c-1"),
				str("session.token", fmt.Sprintf("tok-%x", seq)), num("document.revision", seq%13),
			},
		}
	}
	req := map[string]any{"resourceLogs": []map[string]any{{
		"resource": map[string]any{"attributes": []map[string]any{str("service.name", "documents")}},
		"scopeLogs": []map[string]any{{
			"scope":      map[string]any{"name": "faults"},
			"logRecords": records,
		}},
	}}}
	b.body, _ = json.Marshal(req)
	return b
}

// postResult is what a sender saw for one request.
type postResult struct {
	status  int    // 0 when the request got no answer
	message string // the OTLP status message of a refusal, or the transport error
}

func (r postResult) ok() bool { return r.status == http.StatusOK }

// post sends one OTLP/HTTP JSON request and reads the answer, including the error message
// that the OTLP receiver puts in a refusal's status body.
func post(ctx context.Context, client *http.Client, url string, body []byte) postResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return postResult{message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return postResult{message: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := postResult{status: resp.StatusCode}
	if !res.ok() {
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &st) == nil && st.Message != "" {
			res.message = st.Message
		} else {
			res.message = string(raw)
		}
	}
	return res
}

// ackLog is the set of record ids the collector acknowledged: the set the durability promise
// covers. Refused ids are kept too, to tell whether a refusal left anything behind.
type ackLog struct {
	mu      sync.Mutex
	acked   map[string]bool
	refused map[string]bool
}

func newAckLog() *ackLog { return &ackLog{acked: map[string]bool{}, refused: map[string]bool{}} }

func (a *ackLog) note(ids []string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		if ok {
			a.acked[id] = true
		} else {
			a.refused[id] = true
		}
	}
}

func (a *ackLog) counts() (acked, refused int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked), len(a.refused)
}

// lossAndDuplicates compares stored id counts with the acknowledged ids.
func (a *ackLog) lossAndDuplicates(stored map[string]int) (lost, duplicated int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.acked {
		switch n := stored[id]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated++
		}
	}
	return lost, duplicated
}

// dirBytes is the size of the regular files under dir (0 when it does not exist).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}

// filesWithSuffix counts the files in dir whose names end with one of suffixes.
func filesWithSuffix(dir string, suffixes ...string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		for _, s := range suffixes {
			if strings.HasSuffix(e.Name(), s) {
				n++
				break
			}
		}
	}
	return n
}

// memory reads a process's resident set size and its high-water mark from /proc, in bytes.
func memory(pid int) (rss, peak int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s of /proc/%d/status: %w", name, pid, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return rss, peak, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

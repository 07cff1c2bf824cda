package auditreceiver

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// FuzzDecodeEvents checks the decoder's invariants on arbitrary bodies: it never panics, a request
// error is a 400 or 413, every accepted event has an action, every event of the body is either
// accepted or has a problem (never both), accepted strings are valid UTF-8, and the accepted events
// become exactly as many log records with distinct audit ids. Seeds live in testdata/fuzz/FuzzDecodeEvents.
func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"action":"course.deleted","level":"security","trace_id":"0af7651916cd43dd8448eb211c80319c"}`), false, "")
	f.Add([]byte(`[{"action":"a","id":"x"},{"action":"b","id":"x"},{"nope":1}]`), false, "")
	f.Add([]byte("{\"action\":\"a\"}\n\n{\"action\":\n"), true, "")
	f.Add([]byte(`{"action":"a"}`), false, "key-1")

	const maxEvents = 50
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool, idempotencyKey string) {
		format := formatJSON
		if ndjson {
			format = formatNDJSON
		}
		d, rerr := decodeRequest(body, format, decodeOptions{maxEvents: maxEvents, idempotencyKey: idempotencyKey})
		if rerr != nil {
			if rerr.status != 400 && rerr.status != 413 {
				t.Fatalf("request error with status %d: %v", rerr.status, rerr)
			}
			if rerr.code == "" || rerr.message == "" {
				t.Fatalf("request error without code or message: %+v", rerr)
			}
			return
		}
		if d.total < 1 || d.total > maxEvents {
			t.Fatalf("decoded %d events, want 1..%d", d.total, maxEvents)
		}

		accepted := make(map[int]bool, len(d.events))
		for _, ev := range d.events {
			if ev.action == "" {
				t.Fatalf("event %d accepted without an action", ev.index)
			}
			if !utf8.ValidString(ev.action) || !utf8.ValidString(ev.message) || !utf8.ValidString(ev.id) {
				t.Fatalf("event %d carries invalid UTF-8, which protobuf refuses", ev.index)
			}
			if !ev.level.Valid() {
				t.Fatalf("event %d accepted with level %v", ev.index, ev.level)
			}
			if ev.index < 0 || ev.index >= d.total || accepted[ev.index] {
				t.Fatalf("event index %d out of range or repeated (total %d)", ev.index, d.total)
			}
			accepted[ev.index] = true
		}
		rejected := make(map[int]bool)
		for _, p := range d.problems {
			if p.Message == "" {
				t.Fatalf("problem without message: %+v", p)
			}
			if accepted[p.Index] {
				t.Fatalf("event %d is both accepted and rejected: %+v", p.Index, p)
			}
			rejected[p.Index] = true
		}
		if len(accepted)+len(rejected) != d.total {
			t.Fatalf("%d accepted + %d rejected != %d events", len(accepted), len(rejected), d.total)
		}

		ld, ids := buildLogs(d.events, clientContext{address: "127.0.0.1"}, time.Now())
		if ld.LogRecordCount() != len(d.events) || len(ids) != len(d.events) {
			t.Fatalf("%d events became %d log records and %d ids", len(d.events), ld.LogRecordCount(), len(ids))
		}
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if id == "" || seen[id] {
				t.Fatalf("empty or repeated audit id %q in %v", id, ids)
			}
			seen[id] = true
		}
		for _, rec := range record.DefaultMapping().FromLogs(ld, "", time.Now()) {
			if rec.Event == "" || rec.ID == "" {
				t.Fatalf("mapped record without event or id: %+v", rec)
			}
		}
	})
}

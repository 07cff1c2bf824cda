package auditreceiver

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

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
			require.Contains(t, []int{400, 413}, rerr.status, "request error with status %d: %v", rerr.status, rerr)
			require.NotEmpty(t, rerr.code, "request error without code or message: %+v", rerr)
			require.NotEmpty(t, rerr.message, "request error without code or message: %+v", rerr)
			return
		}
		require.GreaterOrEqual(t, d.total, 1, "decoded %d events, want 1..%d", d.total, maxEvents)
		require.LessOrEqual(t, d.total, maxEvents, "decoded %d events, want 1..%d", d.total, maxEvents)

		accepted := make(map[int]bool, len(d.events))
		for _, ev := range d.events {
			require.NotEmpty(t, ev.action, "event %d accepted without an action", ev.index)
			const utf8Msg = "event %d carries invalid UTF-8, which protobuf refuses"
			require.True(t, utf8.ValidString(ev.action), utf8Msg, ev.index)
			require.True(t, utf8.ValidString(ev.message), utf8Msg, ev.index)
			require.True(t, utf8.ValidString(ev.id), utf8Msg, ev.index)
			require.True(t, ev.level.Valid(), "event %d accepted with level %v", ev.index, ev.level)
			const indexMsg = "event index %d out of range or repeated (total %d)"
			require.GreaterOrEqual(t, ev.index, 0, indexMsg, ev.index, d.total)
			require.Less(t, ev.index, d.total, indexMsg, ev.index, d.total)
			require.False(t, accepted[ev.index], indexMsg, ev.index, d.total)
			accepted[ev.index] = true
		}
		rejected := make(map[int]bool)
		for _, p := range d.problems {
			require.NotEmpty(t, p.Message, "problem without message: %+v", p)
			require.False(t, accepted[p.Index], "event %d is both accepted and rejected: %+v", p.Index, p)
			rejected[p.Index] = true
		}
		require.Equal(t, d.total, len(accepted)+len(rejected), "%d accepted + %d rejected != %d events", len(accepted), len(rejected), d.total)

		ld, ids := buildLogs(d.events, clientContext{address: "127.0.0.1"}, time.Now())
		const buildMsg = "%d events became %d log records and %d ids"
		require.Equal(t, len(d.events), ld.LogRecordCount(), buildMsg, len(d.events), ld.LogRecordCount(), len(ids))
		require.Len(t, ids, len(d.events), buildMsg, len(d.events), ld.LogRecordCount(), len(ids))
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			require.NotEmpty(t, id, "empty or repeated audit id %q in %v", id, ids)
			require.False(t, seen[id], "empty or repeated audit id %q in %v", id, ids)
			seen[id] = true
		}
		for _, rec := range record.DefaultMapping().FromLogs(ld, "", time.Now()) {
			require.NotEmpty(t, rec.Event, "mapped record without event or id: %+v", rec)
			require.NotEmpty(t, rec.ID, "mapped record without event or id: %+v", rec)
		}
	})
}

package auditreceiver

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecodeAndBuild measures the receiver's CPU cost per event (framing, schema, log
// record building) for a 1000-event NDJSON body of realistic events, to compare with the store's
// ceiling of tens of thousands of rows per second.
func BenchmarkDecodeAndBuild(b *testing.B) {
	var body bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&body, `{"action":"course.updated","level":"info","occurred_at":%d,"tenant_id":"acme","user_id":"u-%d",`+
			`"entity_type":"course","entity_id":"c-%d","old_values":{"title":"Go 101","seats":30},"new_values":{"title":"Go 102","seats":31},`+
			`"metadata":{"request_id":"r-%d"},"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`+"\n",
			1714972089123+i, i%50, i, i)
	}
	raw := body.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		// Plain checks in the timed loop: require would call b.Helper on every run.
		d, rerr := decodeRequest(raw, formatNDJSON, decodeOptions{maxEvents: 10000})
		if rerr != nil || len(d.problems) > 0 {
			b.Fatalf("unexpected failure: %v %v", rerr, d.problems)
		}
		ld, _ := buildLogs(d.events, clientContext{address: "127.0.0.1", userAgent: "bench"}, time.Now())
		if ld.LogRecordCount() != 1000 {
			b.Fatal("lost events")
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

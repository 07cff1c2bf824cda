package clickhousestore

import (
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// BenchmarkEncodeRecord is the store's own CPU per row before the driver sees it (encodeAll's
// work), on loadgen-like records, for each layout:
//
//	go test -run '^$' -bench EncodeRecord ./internal/store/clickhousestore/
func BenchmarkEncodeRecord(b *testing.B) {
	recs := storetest.NewLoadgenLike(1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)).Batch(1000, "acme")
	for _, d := range []dialect{{mode: modeLegacy}, {mode: modeModern, rev: currentModernRev}} {
		b.Run(d.mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, _, err := d.encodeRecord(&recs[i%len(recs)], "acme", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

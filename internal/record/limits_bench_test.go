package record

import (
	"testing"
	"time"
)

// BenchmarkLimitsCheck is the check every request pays at intake, per record.
func BenchmarkLimitsCheck(b *testing.B) {
	ld := auditRequest(100, time.Now())
	l := DefaultLimits()
	for b.Loop() {
		if err := l.Check(ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ld.LogRecordCount()), "ns/record")
}

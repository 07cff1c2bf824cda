package auditqueryextension

import (
	"context"
	"testing"
	"time"
)

// BenchStreams hands the live tail benchmark's stream clients to the end-to-end benchmark,
// which lives in package auditqueryextension_test because it imports the exporter, and the
// exporter imports this package.
type BenchStreams struct{ streams liveStreams }

// DialBenchStreams opens n streams on base (half WebSocket, half SSE); origin gives, for a
// record id, the Unix nanoseconds its latency is counted from.
func DialBenchStreams(b *testing.B, ctx context.Context, base string, n int, origin func(id string) (int64, error)) *BenchStreams {
	b.Helper()
	return &BenchStreams{streams: dialLiveSubscribers(b, ctx, base, n, origin)}
}

// WaitAll waits until every stream has received (or was told it lost) want records.
func (s *BenchStreams) WaitAll(want int64, timeout time.Duration) error {
	return s.streams.waitAll(want, timeout)
}

// Collect returns every latency, the records delivered and those lost, once the streams'
// context is cancelled.
func (s *BenchStreams) Collect() ([]time.Duration, int64, int64, error) { return s.streams.collect() }

// BenchPercentileMS is the p-th percentile (0..1) of lat in milliseconds.
func BenchPercentileMS(lat []time.Duration, p float64) float64 {
	return percentileMS(sortedCopy(lat), p)
}

package auditqueryextension

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

// startBenchExtension runs the real extension on 127.0.0.1:0 and returns it with its base URL.
// The per-caller rate limit is off: every benchmark client is the same loopback admin, and the
// point is the API's cost, not its throttle.
func startBenchExtension(b *testing.B, edit func(*Config)) (*queryExtension, string) {
	b.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.RateLimit.Requests = 0
	if edit != nil {
		edit(cfg)
	}
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := ext.Start(context.Background(), storeHost(b)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	qe := ext.(*queryExtension)
	return qe, "http://" + qe.address().String()
}

// benchHTTPClient keeps one connection per concurrent client alive, as a dashboard would.
func benchHTTPClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
}

// percentileMS is the p-th percentile (0..1) of sorted latencies, in milliseconds.
func percentileMS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}

// sortedCopy returns the latencies sorted, leaving lat as it is.
func sortedCopy(lat []time.Duration) []time.Duration {
	out := slices.Clone(lat)
	slices.Sort(out)
	return out
}

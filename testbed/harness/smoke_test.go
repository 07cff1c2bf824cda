package harness

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
	"github.com/otelcol-audit/otelcol-audit/testbed/sink"
)

var (
	binOnce           sync.Once
	oursBin, stockBin string
	binErr            error
)

// binaries builds the distribution (from the root module, as users build it) and stockcol
// once per test process.
func binaries(t *testing.T) (ours, stock string) {
	t.Helper()
	binOnce.Do(func() {
		dir, err := mkdirTemp()
		if err != nil {
			binErr = err
			return
		}
		ctx := context.Background()
		if oursBin, binErr = Build(ctx, "../..", "./otelcol-audit", filepath.Join(dir, "otelcol-audit")); binErr != nil {
			return
		}
		// Tests run in testbed/harness: the root module is two levels up, testbed one.
		stockBin, binErr = Build(ctx, "..", "./cmd/stockcol", filepath.Join(dir, "stockcol"))
	})
	require.NoError(t, binErr)
	return oursBin, stockBin
}

// smokeLoad is a short, low-rate load: enough requests to cross a batch flush and several WAL
// group commits, little enough to finish fast on a shared machine.
var smokeLoad = loadgen.Config{Senders: 2, BatchSize: 50, Rate: 400, Duration: 3 * time.Second, Timeout: 10 * time.Second, Pool: 8}

func TestSmoke_DurableOursCommitsEveryAcknowledgedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector; skipped with -short")
	}
	ours, _ := binaries(t)
	p, err := OursPipeline(ours, t.TempDir(), "durable", 16<<20)
	require.NoError(t, err)
	res, err := RunPipeline(context.Background(), p, smokeLoad, DrainOptions{Max: 30 * time.Second, Stall: 15 * time.Second})
	require.NoError(t, err)
	t.Logf("%s: %s; committed %d after %s drain; cpu %s; peak rss %d MiB", p.Name, res.Load, res.Delivered, res.Drain, res.CPUTotal, res.PeakRSS>>20)
	require.NotZero(t, res.Load.AckedRecords, "nothing was acknowledged: %s\n%s", res.Load, res.Output)
	assert.Zero(t, res.Load.RefusedRecords, "a low-rate load saw refusals: %s", res.Load)
	assert.Zero(t, res.Load.FailedRecords, "a low-rate load saw failures: %s", res.Load)
	require.Equal(t, res.Load.AckedRecords, res.Delivered, "records acknowledged vs in the SQLite file after the drain\n%s", res.Output)
	assert.NoError(t, res.StopErr, "the collector did not stop cleanly")
	assert.Positive(t, res.CPUTotal, "cpu %s and peak rss %d were not measured", res.CPUTotal, res.PeakRSS)
	assert.Positive(t, res.PeakRSS, "cpu %s and peak rss %d were not measured", res.CPUTotal, res.PeakRSS)
	// A second count after the process is gone reads the same file the same way.
	n, err := CountRows(context.Background(), filepath.Join(p.Dir, "audit.db"))
	if assert.NoError(t, err, "after stop") {
		assert.Equal(t, res.Delivered, n, "rows after stop")
	}
}

func TestSmoke_StockPipelineForwardsEveryAcknowledgedRecordToTheSink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector; skipped with -short")
	}
	_, stock := binaries(t)
	s, err := sink.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	p, err := StockPipeline(stock, t.TempDir(), s.URL(), 10_000, s.Records)
	require.NoError(t, err)
	load := smokeLoad
	load.Duration = 2 * time.Second
	res, err := RunPipeline(context.Background(), p, load, DrainOptions{Max: 30 * time.Second, Stall: 15 * time.Second})
	require.NoError(t, err)
	t.Logf("%s: %s; sink got %d after %s drain", p.Name, res.Load, res.Delivered, res.Drain)
	require.NotZero(t, res.Load.AckedRecords, "nothing was acknowledged\n%s", res.Output)
	require.Equal(t, res.Load.AckedRecords, res.Delivered, "acknowledged vs reached the sink\n%s", res.Output)
	assert.Zero(t, s.BadRequests(), "the sink could not decode forwarded requests")
	assert.NotContains(t, res.Output, "Exporting failed", "the stock collector logged export failures")
}

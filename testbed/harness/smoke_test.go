package harness

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	if binErr != nil {
		t.Fatal(binErr)
	}
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
	p, err := OursPipeline(ours, t.TempDir(), "durable", 100_000)
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunPipeline(context.Background(), p, smokeLoad, DrainOptions{Max: 30 * time.Second, Stall: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s; committed %d after %s drain; cpu %s; peak rss %d MiB", p.Name, res.Load, res.Delivered, res.Drain, res.CPUTotal, res.PeakRSS>>20)
	if res.Load.AckedRecords == 0 {
		t.Fatalf("nothing was acknowledged: %s\n%s", res.Load, res.Output)
	}
	if res.Load.RefusedRecords != 0 || res.Load.FailedRecords != 0 {
		t.Errorf("a low-rate load saw refusals: %s", res.Load)
	}
	if res.Delivered != res.Load.AckedRecords {
		t.Fatalf("%d records acknowledged, %d in the SQLite file after the drain\n%s", res.Load.AckedRecords, res.Delivered, res.Output)
	}
	if res.StopErr != nil {
		t.Errorf("the collector did not stop cleanly: %v", res.StopErr)
	}
	if res.CPUTotal <= 0 || res.PeakRSS <= 0 {
		t.Errorf("cpu %s and peak rss %d were not measured", res.CPUTotal, res.PeakRSS)
	}
	// A second count after the process is gone reads the same file the same way.
	if n, err := CountRows(context.Background(), filepath.Join(p.Dir, "audit.db")); err != nil || n != res.Delivered {
		t.Errorf("after stop: %d rows (err %v), want %d", n, err, res.Delivered)
	}
}

func TestSmoke_StockPipelineForwardsEveryAcknowledgedRecordToTheSink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector; skipped with -short")
	}
	_, stock := binaries(t)
	s, err := sink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := StockPipeline(stock, t.TempDir(), s.URL(), 10_000, s.Records)
	if err != nil {
		t.Fatal(err)
	}
	load := smokeLoad
	load.Duration = 2 * time.Second
	res, err := RunPipeline(context.Background(), p, load, DrainOptions{Max: 30 * time.Second, Stall: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s; sink got %d after %s drain", p.Name, res.Load, res.Delivered, res.Drain)
	if res.Load.AckedRecords == 0 || res.Delivered != res.Load.AckedRecords {
		t.Fatalf("%d acknowledged, %d reached the sink\n%s", res.Load.AckedRecords, res.Delivered, res.Output)
	}
	if s.BadRequests() != 0 {
		t.Errorf("the sink could not decode %d forwarded requests", s.BadRequests())
	}
	if strings.Contains(res.Output, "Exporting failed") {
		t.Errorf("the stock collector logged export failures:\n%s", res.Output)
	}
}

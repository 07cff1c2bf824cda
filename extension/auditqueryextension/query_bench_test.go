package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// The query benchmark reads the 1M-row file that sqlitestore's BenchmarkQuery1M builds and
// caches (4 tenants "tenant-0".."tenant-3", 500 users "user-000".."user-499", 8 events, half the
// records in a trace, 30 days ending at the newest record). Its builder lives in a _test.go file
// of that package and cannot be imported; rather than keep a second copy of it in step, this
// benchmark skips, naming the command that builds the file, when the file is missing.
const (
	queryBenchRows    = 1_000_000
	queryBenchSpan    = 30 * 24 * time.Hour
	queryBenchClients = 8
	queryBenchLimit   = 100
	// queryBenchRounds: the API and the store alternate this many times per benchmark call, so
	// that noise from other processes on the shared machine falls on both.
	queryBenchRounds = 4
)

// queryBenchDataset is sqlitestore's queryBenchDataset (bench_query_test.go): the version of the
// cached file's layout, which only changes when a migration changes what queries read.
const queryBenchDataset = 3

func queryBenchPath() string {
	return filepath.Join(os.TempDir(), "otelcol-audit-bench",
		fmt.Sprintf("query-%dk-schema%d.db", queryBenchRows/1000, queryBenchDataset))
}

// queryBenchData is the open 1M-row store and what the queries pick their parameters from.
type queryBenchData struct {
	store  store.Store
	end    time.Time // the newest record's timestamp
	traces []string
	events []string
}

func openQueryBenchData(b *testing.B) queryBenchData {
	b.Helper()
	if testing.Short() {
		b.Skip("the query API benchmark reads a 1M-row file; not in -short")
	}
	path := queryBenchPath()
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s is missing (%v); build it with: go test -run '^$' -bench BenchmarkQuery1M -benchtime 1x ./internal/store/sqlitestore/", path, err)
	}
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	s, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })

	ctx := context.Background()
	newest, err := s.Query(ctx, store.Filter{}, store.Page{Limit: 1})
	if err != nil || len(newest.Records) == 0 {
		b.Fatalf("read the newest record of %s: %v (records: %d)", path, err, len(newest.Records))
	}
	d := queryBenchData{store: s, end: newest.Records[0].Timestamp}
	// Trace ids and event names are sampled from pages spread over the span, so the queries
	// ask for what the file holds whoever built it.
	rng := rand.New(rand.NewPCG(11, 12))
	seenEvent := map[string]bool{}
	for range 40 {
		start := d.end.Add(-time.Duration(rng.Int64N(int64(queryBenchSpan))))
		res, err := s.Query(ctx, store.Filter{Start: start, End: start.Add(time.Hour)}, store.Page{Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res.Records {
			if r.TraceID != "" {
				d.traces = append(d.traces, r.TraceID)
			}
			if r.Event != "" && !seenEvent[r.Event] {
				seenEvent[r.Event] = true
				d.events = append(d.events, r.Event)
			}
		}
	}
	if len(d.traces) < 100 || len(d.events) == 0 {
		b.Fatalf("%s does not look like the benchmark dataset: %d trace ids and %d events sampled", path, len(d.traces), len(d.events))
	}
	return d
}

// benchQuery is one request of the benchmark, as an HTTP target and as the equivalent store
// call.
type benchQuery struct {
	target string // path and query string
	direct func(ctx context.Context, s store.Store) error
}

func logsQuery(f store.Filter) benchQuery {
	v := url.Values{}
	v.Set("limit", fmt.Sprint(queryBenchLimit))
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("tenant", f.TenantID)
	set("user_id", f.UserID)
	set("event", f.Event)
	if !f.Start.IsZero() {
		v.Set("start", f.Start.Format(time.RFC3339Nano))
		v.Set("end", f.End.Format(time.RFC3339Nano))
	}
	return benchQuery{
		target: logsPath + "?" + v.Encode(),
		direct: func(ctx context.Context, s store.Store) error {
			_, err := s.Query(ctx, f, store.Page{Limit: queryBenchLimit})
			return err
		},
	}
}

// runConcurrently runs op(0..n-1) from clients workers and returns the wall time and each op's
// latency (indexed by op).
func runConcurrently(n, clients int, op func(i int) error) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, n)
	var (
		next     atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	started := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		return 0, nil, *err
	}
	return time.Since(started), lat, nil
}

func getOK(c *http.Client, u string) error {
	res, err := c.Get(u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", u, res.StatusCode, body)
	}
	return nil
}

// BenchmarkQueryAPI1M measures GET /api/v1/logs (and /api/v1/traces/{id}) through the real
// extension over real HTTP on 127.0.0.1, 8 concurrent clients, on the 1M-row SQLite file, for
// the newest page of a tenant, a user's day, a trace and an event filter (pages of 100). The
// baseline, run in the same benchmark and alternating with it, is the same queries straight on
// the store from 8 goroutines, so api/store shows what HTTP, routing, parameter parsing and JSON
// encoding cost. One iteration is one query on each side. Run with
//
//	go test -run '^$' -bench BenchmarkQueryAPI1M -benchtime 2000x ./extension/auditqueryextension/
func BenchmarkQueryAPI1M(b *testing.B) {
	d := openQueryBenchData(b)
	ext, base := startBenchExtension(b, nil)
	ext.serveBackend(b, Backend{Store: d.store})

	tenant := func(rng *rand.Rand) string { return fmt.Sprintf("tenant-%d", rng.IntN(4)) }
	cases := []struct {
		name string
		make func(rng *rand.Rand) benchQuery
	}{
		{"newest-page", func(rng *rand.Rand) benchQuery {
			return logsQuery(store.Filter{TenantID: tenant(rng)})
		}},
		{"user+range", func(rng *rand.Rand) benchQuery {
			start := d.end.Add(-queryBenchSpan).Add(time.Duration(rng.Int64N(int64(queryBenchSpan - 24*time.Hour))))
			return logsQuery(store.Filter{TenantID: tenant(rng), UserID: fmt.Sprintf("user-%03d", rng.IntN(500)),
				Start: start, End: start.Add(24 * time.Hour)})
		}},
		{"trace", func(rng *rand.Rand) benchQuery {
			id := d.traces[rng.IntN(len(d.traces))]
			return benchQuery{
				target: "/api/v1/traces/" + id,
				direct: func(ctx context.Context, s store.Store) error {
					recs, err := s.Trace(ctx, "", id)
					if err == nil && len(recs) == 0 {
						err = errors.New("trace " + id + " has no records")
					}
					return err
				},
			}
		}},
		{"event", func(rng *rand.Rand) benchQuery {
			return logsQuery(store.Filter{TenantID: tenant(rng), Event: d.events[rng.IntN(len(d.events))]})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			queries := make([]benchQuery, b.N)
			for i := range queries {
				queries[i] = c.make(rng)
			}
			client := benchHTTPClient(queryBenchClients)
			b.Cleanup(client.CloseIdleConnections)
			ctx := context.Background()
			viaAPI := func(i int) error { return getOK(client, base+queries[i].target) }
			direct := func(i int) error { return queries[i].direct(ctx, d.store) }

			// Warm both paths (connections, prepared statements, pages) before timing.
			warm := min(len(queries), 2*queryBenchClients)
			for _, op := range []func(int) error{viaAPI, direct} {
				if _, _, err := runConcurrently(warm, queryBenchClients, op); err != nil {
					b.Fatal(err)
				}
			}

			var apiTime, storeTime time.Duration
			var apiLat, storeLat []time.Duration
			rounds := min(queryBenchRounds, b.N)
			b.ResetTimer()
			for r := range rounds {
				lo, hi := r*b.N/rounds, (r+1)*b.N/rounds
				shifted := func(op func(int) error) func(int) error { return func(i int) error { return op(lo + i) } }
				sides := []struct {
					op    func(int) error
					total *time.Duration
					lat   *[]time.Duration
				}{{shifted(viaAPI), &apiTime, &apiLat}, {shifted(direct), &storeTime, &storeLat}}
				if r%2 == 1 {
					sides[0], sides[1] = sides[1], sides[0]
				}
				for _, s := range sides {
					elapsed, lat, err := runConcurrently(hi-lo, queryBenchClients, s.op)
					if err != nil {
						b.Fatal(err)
					}
					*s.total += elapsed
					*s.lat = append(*s.lat, lat...)
				}
			}
			b.StopTimer()
			apiRate, storeRate := float64(b.N)/apiTime.Seconds(), float64(b.N)/storeTime.Seconds()
			apiSorted, storeSorted := sortedCopy(apiLat), sortedCopy(storeLat)
			b.ReportMetric(apiRate, "api-req/s")
			b.ReportMetric(percentileMS(apiSorted, 0.50), "api-p50-ms")
			b.ReportMetric(percentileMS(apiSorted, 0.99), "api-p99-ms")
			b.ReportMetric(storeRate, "store-req/s")
			b.ReportMetric(percentileMS(storeSorted, 0.50), "store-p50-ms")
			b.ReportMetric(percentileMS(storeSorted, 0.99), "store-p99-ms")
			b.ReportMetric(apiRate/storeRate, "api/store")
			// An iteration is a query on each side, so ns/op would mix the two.
			b.ReportMetric(0, "ns/op")
		})
	}
}

package sqlitestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// recordsPerIteration is the work of one benchmark iteration, whatever the batch size, so
// that records/s compares batch sizes and statement shapes on the same amount of data.
const recordsPerIteration = 20_000

var (
	benchEvents   = []string{"user.login", "user.logout", "document.view", "document.share", "document.delete", "role.grant", "api.call", "export.run"}
	benchMessages = []string{
		"User signed in with password and second factor",
		"Login failed: invalid credentials for account",
		"Document shared with an external recipient by link",
		"API token used from a new network location",
		"Role administrator granted to user by owner",
		"Export of the monthly report finished successfully",
	}
	benchAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0",
	}
)

// benchBatches returns recordsPerIteration realistic records in batches of size, each batch
// of one tenant, with timestamps advancing as in live ingestion.
func benchBatches(rng *rand.Rand, size int, start time.Time) ([][]record.Record, []string) {
	var batches [][]record.Record
	var tenants []string
	ts := start
	for done := 0; done < recordsPerIteration; done += size {
		tenant := fmt.Sprintf("tenant-%d", rng.IntN(4))
		batch := make([]record.Record, size)
		for i := range batch {
			ts = ts.Add(time.Duration(rng.IntN(50)) * time.Microsecond)
			user := fmt.Sprintf("user-%03d", rng.IntN(500))
			r := record.Record{
				ID: record.NewID(), Timestamp: ts, ObservedTimestamp: ts.Add(3 * time.Millisecond),
				Level: record.Levels[rng.IntN(len(record.Levels))], SeverityText: "INFO", SeverityNumber: 9,
				Event: benchEvents[rng.IntN(len(benchEvents))], Message: benchMessages[rng.IntN(len(benchMessages))],
				TenantID: tenant, UserID: user, Username: "name of " + user, ActorID: user,
				EntityID: fmt.Sprintf("doc-%d", rng.IntN(10_000)), EntityType: "document",
				IPAddress: fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(256), rng.IntN(256)),
				UserAgent: benchAgents[rng.IntN(len(benchAgents))], GeoCountry: "DE", GeoCity: "Berlin",
				Method: "POST", Path: "/api/v1/documents/share", StatusCode: 200, DurationMS: rng.Float64() * 200,
				ServiceName: "documents", Scope: "server", Tags: []string{"web", "v2"},
				Attributes: map[string]any{
					"http.route": "/api/v1/documents/{id}/share", "session.id": fmt.Sprintf("s-%08x", rng.Uint32()),
					"auth.method": "password+totp", "request.bytes": int64(rng.IntN(4096)), "feature.flag": rng.IntN(2) == 0,
				},
				Resource: map[string]any{"service.name": "documents", "service.version": "2.14.1", "host.name": "web-3"},
			}
			if rng.IntN(2) == 0 {
				r.TraceID = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
				r.SpanID = fmt.Sprintf("%016x", rng.Uint64())
			}
			batch[i] = r
		}
		batches = append(batches, batch)
		tenants = append(tenants, tenant)
	}
	return batches, tenants
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Path = b.TempDir() + "/bench.db"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// runInsertBenchmark times insert on recordsPerIteration records per iteration into one
// growing file, and reports records/s.
func runInsertBenchmark(b *testing.B, size int, insert func(s *Store, tenant string, batch []record.Record) error) {
	s := benchStore(b)
	rng := rand.New(rand.NewPCG(uint64(size), 42))
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batches, tenants := benchBatches(rng, size, start.Add(time.Duration(i)*time.Hour))
		b.StartTimer()
		for j, batch := range batches {
			if err := insert(s, tenants[j], batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*recordsPerIteration)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkInsert measures Store.Insert: one transaction per batch, 50 rows per statement,
// into the full schema (six secondary indexes, the unique id index and FTS5).
func BenchmarkInsert(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			runInsertBenchmark(b, size, func(s *Store, tenant string, batch []record.Record) error {
				_, err := s.Insert(context.Background(), tenant, batch)
				return err
			})
		})
	}
}

// BenchmarkInsertNaiveBaseline is the same work with one row per INSERT statement (prepared
// once and reused, one transaction per batch, same schema and encoding), so that the ratio to
// BenchmarkInsert is the gain of multi-row statements alone.
func BenchmarkInsertNaiveBaseline(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			runInsertBenchmark(b, size, func(s *Store, tenant string, batch []record.Record) error {
				ctx := context.Background()
				one, err := s.inserts.get(ctx, 1, false)
				if err != nil {
					return err
				}
				tx, err := s.write.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }()
				st := tx.StmtContext(ctx, one)
				args := make([]any, 0, columnCount)
				for i := range batch {
					if args, err = encodeRecord(args[:0], &batch[i], tenant); err != nil {
						return err
					}
					if _, err := st.ExecContext(ctx, args...); err != nil {
						return err
					}
				}
				return tx.Commit()
			})
		})
	}
}

// BenchmarkInsertSchemaCost splits the price of the schema: the same inserts (1000 per batch)
// with schema v1's narrower time indexes, without the full-text index, with the six
// secondary indexes dropped, and with both, so that each part's share of the single writer's ceiling is measured rather than guessed.
func BenchmarkInsertSchemaCost(b *testing.B) {
	dropIndexes := []string{
		`DROP INDEX audit_logs_tenant_time`, `DROP INDEX audit_logs_time`, `DROP INDEX audit_logs_tenant_user_time`,
		`DROP INDEX audit_logs_tenant_event_time`, `DROP INDEX audit_logs_trace`, `DROP INDEX audit_logs_ip`,
	}
	variants := []struct {
		name  string
		drop  []string
		noFTS bool
	}{
		{"full", nil, false},
		// Schema v1's narrow time indexes, to measure what v2's covering columns cost.
		{"v1-narrow-time-indexes", []string{
			`DROP INDEX audit_logs_tenant_time`, `CREATE INDEX audit_logs_tenant_time ON audit_logs (tenant_id, timestamp, id)`,
			`DROP INDEX audit_logs_time`, `CREATE INDEX audit_logs_time ON audit_logs (timestamp, id)`,
		}, false},
		{"without-fts", nil, true},
		{"without-secondary-indexes", dropIndexes, false},
		{"unique-id-only", dropIndexes, true},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			var prepared *Store
			runInsertBenchmark(b, 1000, func(s *Store, tenant string, batch []record.Record) error {
				if prepared != s {
					if v.noFTS {
						withoutFullText(b, s)
					}
					for _, stmt := range v.drop {
						if _, err := s.write.Exec(stmt); err != nil {
							return err
						}
					}
					prepared = s
				}
				_, err := s.Insert(context.Background(), tenant, batch)
				return err
			})
		})
	}
}

// withoutFullText makes s run without the full-text index, to measure what it costs: Insert
// skips its full-text statement and the delete and update triggers go.
func withoutFullText(b *testing.B, s *Store) {
	b.Helper()
	for _, stmt := range []string{`DROP TRIGGER audit_logs_fts_delete`, `DROP TRIGGER audit_logs_fts_update`} {
		if _, err := s.write.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	s.skipFullTextInsert = true
}

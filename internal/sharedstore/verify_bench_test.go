package sharedstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// BenchmarkVerifyChain measures the verify the API runs (Shared.VerifyChain) on one tenant's
// chain of 196,610 records (the size issue 20 reported; AUDIT_BENCH_VERIFY_RECORDS changes it)
// in a real SQLite store signed every 10,000 records, against the baseline of a plain read of
// the same rows through the query API's pages. Each iteration reads every row, verifies the
// whole chain in full, then adds 1% more records and verifies incrementally (resuming after
// the last verified checkpoint), and reports:
//
//   - read-rec/s and full-rec/s, and full/read: the full verification's rate against the read's;
//   - incr-ms and incr/read: the incremental verification of the whole chain after 1% more
//     records, and its time as a share of a plain read of all the rows.
//
// go test -run '^$' -bench BenchmarkVerifyChain -benchtime 3x -timeout 1h ./internal/sharedstore/
func BenchmarkVerifyChain(b *testing.B) {
	n := 196610
	if v := os.Getenv("AUDIT_BENCH_VERIFY_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("AUDIT_BENCH_VERIFY_RECORDS=%q: want an integer of at least 1000", v)
		}
	}
	cfg := DefaultConfig()
	dir := b.TempDir()
	cfg.SQLite.Path = filepath.Join(dir, "audit.db")
	cfg.Retention.Enabled = false
	priv, _, err := chain.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	cfg.TamperEvidence.SigningKeyFile = filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(cfg.TamperEvidence.SigningKeyFile, priv, 0o600); err != nil {
		b.Fatal(err)
	}
	cfg.TamperEvidence.CheckpointInterval = time.Hour
	s := New(cfg, nopLogger)
	ctx := context.Background()
	if err := s.Start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(ctx) })
	insertN := func(count int) {
		for done := 0; done < count; done += 1000 {
			recs := events(min(1000, count-done), "acme", record.LevelInfo, time.Now())
			for i := range recs {
				recs[i].Message = fmt.Sprintf("user %d signed in from the office network", done+i)
				recs[i].Attributes = map[string]any{"session": done + i, "mfa": true, "client": "web"}
			}
			if _, err := s.Insert(ctx, "acme", recs); err != nil {
				b.Fatal(err)
			}
		}
	}
	insertN(n)
	signed := func(atLeast uint64) {
		deadline := time.Now().Add(time.Minute)
		for {
			rep, err := s.VerifyChain(ctx, "acme", chain.Range{Start: time.Now()})
			if err == nil && rep.SignedThrough >= atLeast {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("no signed checkpoint at or after seq %d: %+v, %v", atLeast, rep, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	signed(uint64(n - n%10000))

	var tookRead, tookFull, tookIncr time.Duration
	read, fullRecs, rows := 0, 0, n
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		p := store.Page{Limit: store.MaxLimit}
		for {
			res, err := s.Store().Query(ctx, store.Filter{TenantID: "acme"}, p)
			if err != nil {
				b.Fatal(err)
			}
			read += len(res.Records)
			if res.NextCursor == "" {
				break
			}
			p.Cursor = res.NextCursor
		}
		tookRead += time.Since(began)

		began = time.Now()
		rep, err := s.VerifyChain(ctx, "acme", chain.Range{Full: true})
		if err != nil || !rep.OK {
			b.Fatalf("full verify: %+v, %v", rep, err)
		}
		tookFull += time.Since(began)
		fullRecs += rep.Records

		b.StopTimer()
		insertN(rows / 100)
		rows += rows / 100
		b.StartTimer()
		began = time.Now()
		rep, err = s.VerifyChain(ctx, "acme", chain.Range{})
		if err != nil || !rep.OK || rep.ResumedAfter == 0 {
			b.Fatalf("incremental verify: %+v, %v", rep, err)
		}
		tookIncr += time.Since(began)
	}
	readRate, fullRate := float64(read)/tookRead.Seconds(), float64(fullRecs)/tookFull.Seconds()
	b.ReportMetric(readRate, "read-rec/s")
	b.ReportMetric(fullRate, "full-rec/s")
	b.ReportMetric(fullRate/readRate, "full/read")
	b.ReportMetric(float64(tookIncr.Milliseconds())/float64(b.N), "incr-ms")
	b.ReportMetric(tookIncr.Seconds()/(tookRead.Seconds()), "incr/read")
}

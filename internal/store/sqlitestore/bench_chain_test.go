package sqlitestore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// BenchmarkChainCost measures what the tamper-evident chain costs the insert path: each
// iteration inserts the same 20,000 realistic records (batches of 1,000) into a store with the
// chain off (the baseline) and into one with it on, alternating which goes first, and reports
// both rates and their ratio. writers=2 inserts from two goroutines, as the exporter's two
// flush workers do: what a batch costs outside the writer's transaction (encoding, record
// hashes) then overlaps with the other batch's transaction. Run with
//
//	go test -run '^$' -bench BenchmarkChainCost -benchtime 3x ./internal/store/sqlitestore/
func BenchmarkChainCost(b *testing.B) {
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchChainCost(b, writers)
		})
	}
}

func benchChainCost(b *testing.B, writers int) {
	off, on := benchStore(b), benchStore(b)
	off.cfg.Chain = false
	rng := rand.New(rand.NewPCG(11, 12))
	start := time.Now()
	var tookOff, tookOn time.Duration
	records := 0
	for i := 0; i < b.N; i++ {
		batches, tenants := benchBatches(rng, 1000, start.Add(time.Duration(i)*time.Hour))
		insertAll := func(s *Store) time.Duration {
			began := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := w; j < len(batches); j += writers {
						if _, err := s.Insert(context.Background(), tenants[j], batches[j]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			return time.Since(began)
		}
		if i%2 == 0 {
			tookOff += insertAll(off)
			tookOn += insertAll(on)
		} else {
			tookOn += insertAll(on)
			tookOff += insertAll(off)
		}
		records += recordsPerIteration
	}
	rateOff, rateOn := float64(records)/tookOff.Seconds(), float64(records)/tookOn.Seconds()
	b.ReportMetric(rateOff, "off-records/s")
	b.ReportMetric(rateOn, "on-records/s")
	b.ReportMetric(rateOn/rateOff, "on/off")
}

// BenchmarkChainVerify measures verify on a store of 20,000 realistic records per iteration's
// tenant set (four tenants, a signed checkpoint each), against the baseline of reading the
// same records through the query API's pages: verify reads every record too, and on top
// encodes it canonically and hashes it twice.
//
//	go test -run '^$' -bench BenchmarkChainVerify -benchtime 5x ./internal/store/sqlitestore/
func BenchmarkChainVerify(b *testing.B) {
	s := benchStore(b)
	rng := rand.New(rand.NewPCG(13, 14))
	batches, tenants := benchBatches(rng, 1000, time.Now())
	for j, batch := range batches {
		if _, err := s.Insert(context.Background(), tenants[j], batch); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	list, err := s.ChainTenants(ctx)
	if err != nil {
		b.Fatal(err)
	}
	signer := chain.NewSigner(benchKey(b))
	for _, t := range list {
		if _, _, err := store.WriteCheckpoint(ctx, s, signer, t, chain.KindPeriodic, nil, 0, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	var tookVerify, tookRead time.Duration
	verified, read := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range list {
			began := time.Now()
			rep, err := chain.Verify(ctx, s, chain.NewKeyring(signer.PublicKey()), t, chain.Range{})
			if err != nil || !rep.OK {
				b.Fatalf("verify %s: %+v, %v", t, rep, err)
			}
			tookVerify += time.Since(began)
			verified += rep.Records

			began = time.Now()
			p := store.Page{Limit: store.MaxLimit}
			for {
				res, err := s.Query(ctx, store.Filter{TenantID: t}, p)
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
		}
	}
	verifyRate, readRate := float64(verified)/tookVerify.Seconds(), float64(read)/tookRead.Seconds()
	b.ReportMetric(verifyRate, "verify-records/s")
	b.ReportMetric(readRate, "read-records/s")
	b.ReportMetric(verifyRate/readRate, "verify/read")
}

// benchKey is a fixed Ed25519 key: a benchmark needs no secret.
func benchKey(b *testing.B) ed25519.PrivateKey {
	b.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

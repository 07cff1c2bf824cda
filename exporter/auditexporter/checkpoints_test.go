package auditexporter

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// signingKey writes a new key under dir and returns its path and public key.
func signingKey(t *testing.T, dir string) (string, ed25519.PublicKey) {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := chain.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, key.Public().(ed25519.PublicKey)
}

// events makes n records of tenant at ts.
func events(n int, tenant string, sev plog.SeverityNumber, ts time.Time) plog.Logs {
	fills := make([]func(plog.LogRecord), n)
	for i := range fills {
		fills[i] = func(lr plog.LogRecord) {
			event(fmt.Sprintf("chain.e%d", i), tenant, sev)(lr)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(i) * time.Millisecond)))
		}
	}
	return logsWith(fills...)
}

func TestCheckpoints_EveryNRecordsThenAtShutdown(t *testing.T) {
	queryID := component.MustNewID("auditquery")
	probe := &registryProbe{}
	var cfg *Config
	var pub ed25519.PublicKey
	exp, dbPath := startExporter(t, func(c *Config) {
		c.Query = &queryID
		c.TamperEvidence.SigningKeyFile, pub = signingKey(t, c.DataDir)
		c.TamperEvidence.CheckpointDir = filepath.Join(c.DataDir, "checkpoints")
		c.TamperEvidence.CheckpointEveryRecords = 50
		c.TamperEvidence.CheckpointInterval = time.Hour
		cfg = c
	}, hostWith(map[component.ID]component.Component{queryID: probe}))
	if probe.got == nil || probe.got.Verifier == nil {
		t.Fatalf("registered backend %+v has no chain verifier", probe.got)
	}
	for _, n := range []int{40, 40, 40, 40} {
		if err := exp.ConsumeLogs(context.Background(), events(n, "acme", plog.SeverityNumberInfo, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	// 160 records with a checkpoint due every 50: however the batches fall, at least two
	// checkpoints are written while running.
	deadline := time.Now().Add(20 * time.Second)
	var rep chain.Report
	for time.Now().Before(deadline) {
		var err error
		if rep, err = probe.got.Verifier.VerifyChain(context.Background(), "acme", chain.Range{}); err != nil {
			t.Fatal(err)
		}
		if rep.Records == 160 && rep.Checkpoints >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !rep.OK || rep.Records != 160 || rep.Checkpoints < 2 || !rep.Signed {
		t.Fatalf("while running: %+v; want 160 records, at least 2 signed checkpoints", rep)
	}
	// Ten more are fewer than 50 and the interval is an hour: they stay unsigned until the stop.
	if err := exp.ConsumeLogs(context.Background(), events(10, "acme", plog.SeverityNumberInfo, time.Now())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		r, err := probe.got.Verifier.VerifyChain(context.Background(), "acme", chain.Range{})
		return err == nil && r.Records == 170 && r.UnsignedTail >= 10
	})
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// After the stop the head is signed by the shutdown's checkpoint: nothing is left in the unsigned tail, in the database
	// or in the files kept outside it.
	st := openSQLite(t, dbPath)
	files, err := chain.ReadCheckpointFiles(cfg.TamperEvidence.CheckpointDir, "acme")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Checkpoints(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(stored) || len(files) < 3 {
		t.Fatalf("%d checkpoint files and %d stored checkpoints; want the same, at least 3", len(files), len(stored))
	}
	rep, err = chain.Verify(context.Background(), st, chain.NewKeyring(pub), "acme", chain.Range{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.UnsignedTail != 0 {
		t.Fatalf("after shutdown: %+v; want OK with no unsigned tail", rep)
	}
}

func TestCheckpoints_RetentionRunLeavesTheChainVerifiable(t *testing.T) {
	queryID := component.MustNewID("auditquery")
	probe := &registryProbe{}
	exp, _ := startExporter(t, func(c *Config) {
		c.Query = &queryID
		c.TamperEvidence.SigningKeyFile, _ = signingKey(t, c.DataDir)
	}, hostWith(map[component.ID]component.Component{queryID: probe}))
	old := time.Now().AddDate(-2, 0, 0)
	for _, ld := range []plog.Logs{
		events(30, "acme", plog.SeverityNumberDebug, old),      // expired (1 month)
		events(5, "acme", plog.SeverityNumberInfo, time.Now()), // kept
		events(10, "globex", plog.SeverityNumberDebug, old),    // expired, other tenant
	} {
		if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatal(err)
		}
	}
	// Both tenants' records committed (they are flushed in separate batches) before retention.
	waitFor(t, func() bool {
		acme, err := probe.got.Verifier.VerifyChain(context.Background(), "acme", chain.Range{})
		if err != nil || acme.Records != 35 {
			return false
		}
		globex, err := probe.got.Verifier.VerifyChain(context.Background(), "globex", chain.Range{})
		return err == nil && globex.Records == 10
	})
	res, err := probe.got.Retention.RunRetention(context.Background())
	if err != nil || res.Total != 40 {
		t.Fatalf("RunRetention = %+v, %v; want 40 removed", res, err)
	}
	for tenant, pruned := range map[string]int{"acme": 30, "globex": 10} {
		rep, err := probe.got.Verifier.VerifyChain(context.Background(), tenant, chain.Range{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Pruned != pruned || !rep.Signed {
			t.Errorf("%s after retention: %+v; want OK with %d pruned by the signed run", tenant, rep, pruned)
		}
	}
}

func TestCheckpoints_NoVerifierWhenTamperEvidenceIsOff(t *testing.T) {
	queryID := component.MustNewID("auditquery")
	probe := &registryProbe{}
	startExporter(t, func(c *Config) {
		c.Query = &queryID
		c.TamperEvidence.Enabled = false
	}, hostWith(map[component.ID]component.Component{queryID: probe}))
	if probe.got == nil || probe.got.Verifier != nil {
		t.Fatalf("backend %+v: want no verifier with tamper_evidence off", probe.got)
	}
}

func openSQLite(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

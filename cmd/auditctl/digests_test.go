package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// digestedDB writes a real SQLite store of acme's 30 records with a signed checkpoint every 10,
// each delivered to a digest directory the way the collector delivers them (one digest per
// period), and returns the database, the digest directory and the signing key.
func digestedDB(t *testing.T) (db, digests, keyPrefix string) {
	t.Helper()
	dir := t.TempDir()
	keyPrefix = filepath.Join(dir, "signing")
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut), errOut.String())
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	defer st.Close()
	digests = filepath.Join(dir, "digests")
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w := chaindigest.NewWriter(&chaindigest.Dir{Path: digests}, nil, time.Minute, base)
	for batch := range 3 {
		recs := make([]record.Record, 10)
		for i := range recs {
			n := batch*10 + i
			recs[i] = record.Record{ID: fmt.Sprintf("rec-%02d", n), Timestamp: base.Add(time.Duration(n) * time.Second),
				Level: record.LevelInfo, Message: fmt.Sprintf("m-%02d", n)}
		}
		_, err := st.Insert(context.Background(), "acme", recs)
		require.NoError(t, err)
		at := base.Add(time.Duration(batch+1) * time.Hour)
		cp, _, err := store.WriteCheckpoint(context.Background(), st, chain.NewSigner(priv), "acme", chain.KindPeriodic, nil, 0, at)
		require.NoError(t, err)
		w.Add(cp)
		require.NoError(t, w.Flush(context.Background(), at, false))
	}
	files, err := chaindigest.ReadFiles(digests, "acme")
	require.NoError(t, err)
	require.Len(t, files, 3, "one digest per period")
	return cfg.Path, digests, keyPrefix
}

// rewriteChain is the attacker's recomputation: every link's record hash and chain hash
// recomputed from the records as they now are, written with sqlite directly.
func rewriteChain(t *testing.T, db, tenant string) {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = db
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	type fix struct {
		seq          uint64
		recHash, hsh chain.Hash
	}
	var fixes []fix
	var prev chain.Hash
	require.NoError(t, st.ChainLinks(context.Background(), tenant, 1, 1<<62, func(l chain.Link, rec *record.Record) error {
		l.RecordHash = chain.RecordHash(*rec)
		l.Hash = l.HashAfter(prev)
		prev = l.Hash
		fixes = append(fixes, fix{l.Seq, l.RecordHash, l.Hash})
		return nil
	}))
	require.NoError(t, st.Close())
	raw := rawDB(t, db)
	for _, f := range fixes {
		_, err := raw.Exec(`UPDATE audit_chain SET record_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?`, f.recHash[:], f.hsh[:], tenant, int64(f.seq))
		require.NoError(t, err)
	}
}

func rawDB(t *testing.T, db string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	return raw
}

// resign replaces every stored checkpoint with one of the rewritten chain's head at the same
// seq and time, signed with the stolen key: what the database alone cannot tell from the real.
func resign(t *testing.T, db, keyPrefix, tenant string) {
	t.Helper()
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = db
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	cps, err := st.Checkpoints(context.Background(), tenant)
	require.NoError(t, err)
	heads := map[uint64]chain.Hash{}
	require.NoError(t, st.ChainLinks(context.Background(), tenant, 1, 1<<62, func(l chain.Link, _ *record.Record) error {
		heads[l.Seq] = l.Hash
		return nil
	}))
	require.NoError(t, st.Close())
	raw := rawDB(t, db)
	for _, cp := range cps {
		cp.Head = heads[cp.Seq]
		doc, err := json.Marshal(chain.NewSigner(priv).Sign(cp))
		require.NoError(t, err)
		_, err = raw.Exec(`UPDATE audit_checkpoints SET document = ? WHERE tenant_id = ? AND seq = ?`, string(doc), tenant, int64(cp.Seq))
		require.NoError(t, err)
	}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

// The digests outside the database find rewrites the database alone cannot show: records
// edited with the chain recomputed and the checkpoints deleted, or re-signed with a stolen key.
func TestVerifyDigests_FindARewrittenStore(t *testing.T) {
	editRecord := func(t *testing.T, db string) {
		_, err := rawDB(t, db).Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = 'rec-05'`)
		require.NoError(t, err)
	}
	cases := []struct {
		name string
		// attack changes the copied database and digest directory.
		attack func(t *testing.T, db, digests, key string)
		// withoutDigests is verify's exit code without --digests: the attacks that pass it
		// are why digests exist.
		withoutDigests int
		code           int
		seq            uint64
		reason         string
	}{
		{name: "an untouched store matches its digests", attack: func(*testing.T, string, string, string) {},
			withoutDigests: exitOK, code: exitOK},
		{name: "records rewritten with the chain recomputed and the checkpoints deleted", attack: func(t *testing.T, db, _, _ string) {
			editRecord(t, db)
			rewriteChain(t, db, "acme")
			_, err := rawDB(t, db).Exec(`DELETE FROM audit_checkpoints`)
			require.NoError(t, err)
		}, withoutDigests: exitOK, code: exitTampered, seq: 10, reason: chaindigest.ReasonCheckpointDeleted},
		{name: "records rewritten and the checkpoints re-signed with a stolen key", attack: func(t *testing.T, db, _, key string) {
			editRecord(t, db)
			rewriteChain(t, db, "acme")
			resign(t, db, key, "acme")
		}, withoutDigests: exitOK, code: exitTampered, seq: 10, reason: chaindigest.ReasonCheckpointRewriten},
		{name: "records rewritten with the chain recomputed, checkpoints kept", attack: func(t *testing.T, db, _, _ string) {
			editRecord(t, db)
			rewriteChain(t, db, "acme")
		}, withoutDigests: exitTampered, code: exitTampered, seq: 10, reason: chain.ReasonChainRewritten},
		{name: "a whole tenant deleted from the database", attack: func(t *testing.T, db, _, _ string) {
			raw := rawDB(t, db)
			for _, table := range []string{"audit_logs", "audit_chain", "audit_checkpoints"} {
				_, err := raw.Exec(`DELETE FROM ` + table)
				require.NoError(t, err)
			}
		}, withoutDigests: exitFail, code: exitTampered, seq: 10, reason: chaindigest.ReasonCheckpointDeleted},
		{name: "a digest removed from the directory", attack: func(t *testing.T, _, digests, _ string) {
			require.NoError(t, os.Remove(filepath.Join(digests, "acme", chaindigest.Name(2))))
		}, withoutDigests: exitOK, code: exitTampered, reason: chaindigest.ReasonDigestChainBroken},
	}
	db0, digests0, key := digestedDB(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyTree(t, filepath.Dir(db0))
			db, digests := filepath.Join(dir, filepath.Base(db0)), filepath.Join(dir, filepath.Base(digests0))
			c.attack(t, db, digests, key)
			pub := key + ".pub.pem"

			var out, errOut bytes.Buffer
			code := run([]string{"verify", "--db", db, "--public-key", pub}, &out, &errOut)
			assert.Equal(t, c.withoutDigests, code, "without --digests: stdout %q, stderr %q", out.String(), errOut.String())

			out.Reset()
			errOut.Reset()
			code = run([]string{"verify", "--db", db, "--public-key", pub, "--digests", digests, "--json"}, &out, &errOut)
			require.Equal(t, c.code, code, "with --digests: stdout %q, stderr %q", out.String(), errOut.String())
			var rep chain.Report
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
			if c.reason == "" {
				assert.True(t, rep.OK, "%+v", rep)
				assert.Equal(t, 3, rep.Digests)
				assert.Equal(t, uint64(30), rep.DigestedThrough)
				return
			}
			require.NotNil(t, rep.FirstBroken, "%+v", rep)
			assert.Equal(t, c.reason, rep.FirstBroken.Reason, "%+v", rep.FirstBroken)
			assert.Equal(t, c.seq, rep.FirstBroken.Seq, "%+v", rep.FirstBroken)
		})
	}
}

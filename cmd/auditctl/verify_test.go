package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// chainedDB writes a real SQLite store with two tenants' chains and a checkpoint of each,
// signed with a key made by `auditctl chain keygen`, and returns the file and the key prefix.
func chainedDB(t *testing.T) (db, keyPrefix string) {
	t.Helper()
	dir := t.TempDir()
	keyPrefix = filepath.Join(dir, "signing")
	var out, errOut bytes.Buffer
	code := run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut)
	require.Equal(t, exitOK, code, "keygen exit %d: %s", code, errOut.String())
	code = run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut)
	require.Equal(t, exitFail, code, "keygen over an existing key: exit %d, want %d (never overwrite a key)", code, exitFail)
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	defer st.Close()
	for _, tenant := range []string{"acme", "globex"} {
		recs := make([]record.Record, 20)
		for i := range recs {
			recs[i] = record.Record{ID: fmt.Sprintf("%s-%02d", tenant, i), Timestamp: time.Unix(int64(1000+i), 0),
				Level: record.LevelInfo, Message: "m"}
		}
		_, err := st.Insert(context.Background(), tenant, recs)
		require.NoError(t, err)
		_, _, err = store.WriteCheckpoint(context.Background(), st, chain.NewSigner(priv), tenant, chain.KindPeriodic, nil, 0, time.Now())
		require.NoError(t, err)
	}
	return cfg.Path, keyPrefix
}

func TestVerify_OKThenTheEditedRecordWithExitCode3(t *testing.T) {
	db, key := chainedDB(t)
	var out, errOut bytes.Buffer
	code := run([]string{"verify", "--db", db, "--public-key", key + ".pub.pem"}, &out, &errOut)
	require.Equal(t, exitOK, code, "exit %d, stdout %q, stderr %q; want both tenants OK", code, out.String(), errOut.String())
	require.Equal(t, 2, strings.Count(out.String(), " OK: 20 records checked"),
		"exit %d, stdout %q, stderr %q; want both tenants OK", code, out.String(), errOut.String())

	raw, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = 'globex-07'`)
	require.NoError(t, err)
	raw.Close()
	out.Reset()
	code = run([]string{"verify", "--db", db, "--public-key", key + ".pub.pem"}, &out, &errOut)
	require.Equal(t, exitTampered, code, "exit %d after an edit, want %d; stdout %q", code, exitTampered, out.String())
	const msg = "stdout %q; want acme OK and globex broken at seq 8"
	assert.Contains(t, out.String(), "acme OK", msg, out.String())
	assert.Contains(t, out.String(), "globex BROKEN", msg, out.String())
	assert.Contains(t, out.String(), "seq 8 (record globex-07): "+chain.ReasonRecordAltered, msg, out.String())
}

func TestVerify_RefusesWhatItCannotCheck(t *testing.T) {
	db, _ := chainedDB(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", "--db", db, "--start", "yesterday"}, exitUsage, "--start: expected an RFC 3339 time"},
		{[]string{"verify", "--db", filepath.Join(t.TempDir(), "missing.db")}, exitFail, "no such file"},
		{[]string{"verify", "--db", db, "--public-key", db}, exitFail, "PUBLIC KEY"},
		{[]string{"chain", "rotate"}, exitUsage, "expected the subcommand keygen"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		const msg = "%v: exit %d, stderr %q; want exit %d mentioning %q"
		assert.Equal(t, c.code, code, msg, c.args, code, errOut.String(), c.code, c.want)
		assert.Contains(t, errOut.String(), c.want, msg, c.args, code, errOut.String(), c.code, c.want)
	}
	// Without a key the signatures are not checked, and it says so.
	var out, errOut bytes.Buffer
	code := run([]string{"verify", "--db", db, "--tenant", "acme"}, &out, &errOut)
	const msg = "exit %d, stdout %q, stderr %q"
	assert.Equal(t, exitOK, code, msg, code, out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "signatures are not checked", msg, code, out.String(), errOut.String())
	assert.Contains(t, out.String(), "signatures NOT checked", msg, code, out.String(), errOut.String())
}

// A history as the README's steps leave it: records checkpointed unsigned (the default), then
// a key made and configured, then more records signed by it, then a rotation to a second key.
func TestVerify_SigningTurnedOnLaterThenRotatedVerifiesAndSaysWhatIsCovered(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	for _, k := range []string{"first", "second"} {
		code := run([]string{"chain", "keygen", "--out", filepath.Join(dir, k)}, &out, &errOut)
		require.Equal(t, exitOK, code, "keygen: %s", errOut.String())
	}
	first, err := chain.LoadPrivateKey(filepath.Join(dir, "first.pem"))
	require.NoError(t, err)
	second, err := chain.LoadPrivateKey(filepath.Join(dir, "second.pem"))
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	for step, signer := range []*chain.Signer{nil, chain.NewSigner(first), chain.NewSigner(second)} {
		recs := make([]record.Record, 10)
		for i := range recs {
			recs[i] = record.Record{ID: fmt.Sprintf("r-%d-%02d", step, i), Timestamp: time.Unix(int64(1000+10*step+i), 0), Level: record.LevelInfo, Message: "m"}
		}
		_, err := st.Insert(context.Background(), "acme", recs)
		require.NoError(t, err)
		_, _, err = store.WriteCheckpoint(context.Background(), st, signer, "acme", chain.KindPeriodic, nil, 0, time.Now())
		require.NoError(t, err)
	}
	st.Close()

	out.Reset()
	code := run([]string{"verify", "--db", cfg.Path, "--public-key", filepath.Join(dir, "first.pub.pem"), "--public-key", filepath.Join(dir, "second.pub.pem")}, &out, &errOut)
	const both = "exit %d, stdout %q; want OK with the unsigned start and the signed coverage said"
	require.Equal(t, exitOK, code, both, code, out.String())
	require.Contains(t, out.String(), "acme OK: 30 records checked", both, code, out.String())
	require.Contains(t, out.String(), "seq 1-30: protected by a verified signature", both, code, out.String())
	require.Contains(t, out.String(), "seq 1-10: checkpointed, unsigned", both, code, out.String())

	// Only the new key at hand: intact, but what the first key signed is not vouched for.
	out.Reset()
	code = run([]string{"verify", "--db", cfg.Path, "--public-key", filepath.Join(dir, "second.pub.pem")}, &out, &errOut)
	const newOnly = "exit %d, stdout %q; want exit %d, OK, and the missing key named"
	assert.Equal(t, exitUnknownKeys, code, newOnly, code, out.String(), exitUnknownKeys)
	assert.Contains(t, out.String(), "acme OK", newOnly, code, out.String(), exitUnknownKeys)
	assert.Contains(t, out.String(), "signed by keys not given", newOnly, code, out.String(), exitUnknownKeys)
}

// With --state, verify resumes after the checkpoints the last intact run reached; --full
// recomputes everything, which alone finds an old record edited in place.
func TestVerify_StateResumesAndFullRecomputes(t *testing.T) {
	db, key := chainedDB(t)
	state := filepath.Join(t.TempDir(), "verify-state.json")
	runJSON := func(extra ...string) (int, []chain.Report) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"verify", "--db", db, "--public-key", key + ".pub.pem", "--state", state, "--json"}, extra...), &out, &errOut)
		var reps []chain.Report
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var rep chain.Report
			require.NoError(t, json.Unmarshal([]byte(line), &rep), "stdout %q, stderr %q", out.String(), errOut.String())
			reps = append(reps, rep)
		}
		return code, reps
	}
	code, reps := runJSON()
	require.Equal(t, exitOK, code)
	for _, rep := range reps {
		assert.Equal(t, 20, rep.Records, "%s: the first run recomputes everything", rep.Tenant)
	}
	code, reps = runJSON()
	require.Equal(t, exitOK, code)
	for _, rep := range reps {
		assert.Equal(t, 0, rep.Records, "%s: nothing after the verified checkpoint", rep.Tenant)
		assert.Equal(t, uint64(20), rep.ResumedAfter, rep.Tenant)
	}
	raw, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = 'acme-03'`)
	require.NoError(t, err)
	raw.Close()
	code, _ = runJSON()
	assert.Equal(t, exitOK, code, "resumed after seq 20, the old edit is not looked at")
	code, reps = runJSON("--full")
	require.Equal(t, exitTampered, code)
	assert.Equal(t, chain.ReasonRecordAltered, reps[0].FirstBroken.Reason, "%+v", reps[0])
	assert.Equal(t, uint64(4), reps[0].FirstBroken.Seq)
}

// A store written with sqlite.partition_max_rows keeps its newer records, links and heads in
// partition files beside --db: verify walks them all, and finds an edit in a partition.
func TestVerify_APartitionedStoreIsVerifiedAcrossItsPartitions(t *testing.T) {
	dir := t.TempDir()
	keyPrefix := filepath.Join(dir, "signing")
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut), errOut.String())
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path, cfg.PartitionMaxRows = filepath.Join(dir, "audit.db"), 5
	st, err := sqlitestore.OpenPartitioned(context.Background(), cfg)
	require.NoError(t, err)
	for batch := range 6 {
		recs := make([]record.Record, 4)
		for i := range recs {
			recs[i] = record.Record{ID: fmt.Sprintf("acme-%d-%d", batch, i), Timestamp: time.Unix(int64(1000+batch*10+i), 0),
				Level: record.LevelInfo, Message: "m"}
		}
		_, err := st.Insert(context.Background(), "acme", recs)
		require.NoError(t, err)
	}
	_, _, err = store.WriteCheckpoint(context.Background(), st, chain.NewSigner(priv), "acme", chain.KindPeriodic, nil, 0, time.Now())
	require.NoError(t, err)
	require.NoError(t, st.Close())

	out.Reset()
	code := run([]string{"verify", "--db", cfg.Path, "--public-key", keyPrefix + ".pub.pem"}, &out, &errOut)
	require.Equal(t, exitOK, code, "exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	require.Contains(t, out.String(), "acme OK: 24 records checked")

	parts, err := filepath.Glob(filepath.Join(dir, "audit-partitions", "p*.db"))
	require.NoError(t, err)
	require.NotEmpty(t, parts)
	raw, err := sql.Open("sqlite", parts[len(parts)-1])
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = 'acme-5-1'`)
	require.NoError(t, err)
	raw.Close()
	out.Reset()
	code = run([]string{"verify", "--db", cfg.Path, "--public-key", keyPrefix + ".pub.pem"}, &out, &errOut)
	require.Equal(t, exitTampered, code, "exit %d after an edit in a partition; stdout %q", code, out.String())
	assert.Contains(t, out.String(), "seq 22 (record acme-5-1): "+chain.ReasonRecordAltered)
}

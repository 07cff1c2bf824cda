package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if code := run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut); code != exitOK {
		t.Fatalf("keygen exit %d: %s", code, errOut.String())
	}
	if code := run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut); code != exitFail {
		t.Fatalf("keygen over an existing key: exit %d, want %d (never overwrite a key)", code, exitFail)
	}
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tenant := range []string{"acme", "globex"} {
		recs := make([]record.Record, 20)
		for i := range recs {
			recs[i] = record.Record{ID: fmt.Sprintf("%s-%02d", tenant, i), Timestamp: time.Unix(int64(1000+i), 0),
				Level: record.LevelInfo, Message: "m"}
		}
		if _, err := st.Insert(context.Background(), tenant, recs); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.WriteCheckpoint(context.Background(), st, chain.NewSigner(priv), tenant, chain.KindPeriodic, nil, 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return cfg.Path, keyPrefix
}

func TestVerify_OKThenTheEditedRecordWithExitCode3(t *testing.T) {
	db, key := chainedDB(t)
	var out, errOut bytes.Buffer
	code := run([]string{"verify", "--db", db, "--public-key", key + ".pub.pem"}, &out, &errOut)
	if code != exitOK || strings.Count(out.String(), " OK: 20 records checked") != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want both tenants OK", code, out.String(), errOut.String())
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = 'globex-07'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out.Reset()
	code = run([]string{"verify", "--db", db, "--public-key", key + ".pub.pem"}, &out, &errOut)
	if code != exitTampered {
		t.Fatalf("exit %d after an edit, want %d; stdout %q", code, exitTampered, out.String())
	}
	if !strings.Contains(out.String(), "acme OK") || !strings.Contains(out.String(), "globex BROKEN") ||
		!strings.Contains(out.String(), "seq 8 (record globex-07): "+chain.ReasonRecordAltered) {
		t.Fatalf("stdout %q; want acme OK and globex broken at seq 8", out.String())
	}
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
		if code := run(c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	// Without a key the signatures are not checked, and it says so.
	var out, errOut bytes.Buffer
	if code := run([]string{"verify", "--db", db, "--tenant", "acme"}, &out, &errOut); code != exitOK ||
		!strings.Contains(errOut.String(), "signatures are not checked") || !strings.Contains(out.String(), "signatures NOT checked") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// A history as the README's steps leave it: records checkpointed unsigned (the default), then
// a key made and configured, then more records signed by it, then a rotation to a second key.
func TestVerify_SigningTurnedOnLaterThenRotatedVerifiesAndSaysWhatIsCovered(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	for _, k := range []string{"first", "second"} {
		if code := run([]string{"chain", "keygen", "--out", filepath.Join(dir, k)}, &out, &errOut); code != exitOK {
			t.Fatalf("keygen: %s", errOut.String())
		}
	}
	first, err := chain.LoadPrivateKey(filepath.Join(dir, "first.pem"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := chain.LoadPrivateKey(filepath.Join(dir, "second.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for step, signer := range []*chain.Signer{nil, chain.NewSigner(first), chain.NewSigner(second)} {
		recs := make([]record.Record, 10)
		for i := range recs {
			recs[i] = record.Record{ID: fmt.Sprintf("r-%d-%02d", step, i), Timestamp: time.Unix(int64(1000+10*step+i), 0), Level: record.LevelInfo, Message: "m"}
		}
		if _, err := st.Insert(context.Background(), "acme", recs); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.WriteCheckpoint(context.Background(), st, signer, "acme", chain.KindPeriodic, nil, 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out.Reset()
	code := run([]string{"verify", "--db", cfg.Path, "--public-key", filepath.Join(dir, "first.pub.pem"), "--public-key", filepath.Join(dir, "second.pub.pem")}, &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), "acme OK: 30 records checked") ||
		!strings.Contains(out.String(), "seq 1-30: protected by a verified signature") ||
		!strings.Contains(out.String(), "seq 1-10: checkpointed, unsigned") {
		t.Fatalf("exit %d, stdout %q; want OK with the unsigned start and the signed coverage said", code, out.String())
	}

	// Only the new key at hand: intact, but what the first key signed is not vouched for.
	out.Reset()
	code = run([]string{"verify", "--db", cfg.Path, "--public-key", filepath.Join(dir, "second.pub.pem")}, &out, &errOut)
	if code != exitUnknownKeys || !strings.Contains(out.String(), "acme OK") || !strings.Contains(out.String(), "signed by keys not given") {
		t.Fatalf("exit %d, stdout %q; want exit %d, OK, and the missing key named", code, out.String(), exitUnknownKeys)
	}
}

package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// exitTampered is verify's answer when a chain is broken: the check ran and found something,
// which a script must tell apart from a check that could not run (1).
const exitTampered = 3

// defaultDB is the database of the collector's default configuration.
const defaultDB = "./data/audit.db"

// errTampered carries verify's finding to exitCode's caller.
var errTampered = errors.New("tampering found")

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditctl verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", defaultDB, "the SQLite database (single_database tenancy)")
	tenantsDir := fs.String("tenants-dir", "", "the directory of database_per_tenant files (instead of --db)")
	tenant := fs.String("tenant", "", "verify only this tenant (default: every tenant with a chain)")
	pubFile := fs.String("public-key", "", "the Ed25519 public key (PEM) that signed the checkpoints")
	cpDir := fs.String("checkpoint-dir", "", "checkpoint files kept outside the database, checked too")
	start := fs.String("start", "", "RFC 3339: from the last checkpoint at or before this time")
	end := fs.String("end", "", "RFC 3339: up to the first checkpoint at or after this time")
	asJSON := fs.Bool("json", false, "machine-readable output: one report per line")
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("verify: unexpected argument %q", pos[0])
	}
	var rng chain.Range
	if err == nil {
		rng, err = parseRange(*start, *end)
	}
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	err = verify(verifyOptions{db: *db, tenantsDir: *tenantsDir, tenant: *tenant, pubFile: *pubFile,
		cpDir: *cpDir, rng: rng, asJSON: *asJSON}, stdout, stderr)
	if errors.Is(err, errTampered) {
		return exitTampered
	}
	return exitCode(err, stdout, stderr)
}

type verifyOptions struct {
	db, tenantsDir, tenant, pubFile, cpDir string
	rng                                    chain.Range
	asJSON                                 bool
}

func parseRange(start, end string) (chain.Range, error) {
	var r chain.Range
	for _, f := range []struct {
		name, value string
		into        *time.Time
	}{{"--start", start, &r.Start}, {"--end", end, &r.End}} {
		if f.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			return r, usagef("verify: %s: expected an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", f.name, f.value)
		}
		*f.into = t
	}
	return r, nil
}

func verify(o verifyOptions, stdout, stderr io.Writer) error {
	ctx := context.Background()
	var pub ed25519.PublicKey
	if o.pubFile != "" {
		var err error
		if pub, err = chain.LoadPublicKey(o.pubFile); err != nil {
			return err
		}
	} else if !o.asJSON {
		fmt.Fprintln(stderr, "auditctl: no --public-key: checkpoint signatures are not checked, so a rewritten chain is not detected")
	}
	st, err := openForVerify(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	tenants := []string{o.tenant}
	if o.tenant == "" {
		if tenants, err = st.ChainTenants(ctx); err != nil {
			return err
		}
		if len(tenants) == 0 {
			return errors.New("verify: no tenant has a chain in this database")
		}
	}
	broken := false
	for _, t := range tenants {
		var src chain.Source = st
		if o.cpDir != "" {
			files, err := chain.ReadCheckpointFiles(o.cpDir, t)
			if err != nil {
				return err
			}
			src = chain.WithCheckpoints(src, files)
		}
		rep, err := chain.Verify(ctx, src, pub, t, o.rng)
		if err != nil {
			return fmt.Errorf("verify %s: %w", t, err)
		}
		broken = broken || !rep.OK
		printReport(stdout, rep, o.asJSON)
	}
	if broken {
		return errTampered
	}
	return nil
}

func openForVerify(ctx context.Context, o verifyOptions) (store.ChainStore, error) {
	cfg := sqlitestore.DefaultConfig()
	if o.tenantsDir != "" {
		cfg.Tenancy, cfg.Directory = sqlitestore.TenancyDatabasePerTenant, o.tenantsDir
		return sqlitestore.OpenPerTenant(ctx, cfg)
	}
	// Opening a file that does not exist would create an empty database and verify nothing.
	if _, err := os.Stat(o.db); err != nil {
		return nil, fmt.Errorf("verify: --db: %w", err)
	}
	cfg.Path = o.db
	return sqlitestore.Open(ctx, cfg)
}

func printReport(w io.Writer, rep chain.Report, asJSON bool) {
	if asJSON {
		line, _ := json.Marshal(rep)
		fmt.Fprintln(w, string(line))
		return
	}
	status := "OK"
	if !rep.OK {
		status = "BROKEN"
	}
	fmt.Fprintf(w, "%s %s: %d records checked (seq %d-%d, %d pruned by retention), %d checkpoints, signatures %s, %d after the last checkpoint; %.0f records/s\n",
		rep.Tenant, status, rep.Records, rep.From, rep.To, rep.Pruned, rep.Checkpoints,
		map[bool]string{true: "checked", false: "NOT checked"}[rep.Signed], rep.UnsignedTail, rep.RecordsPerSecond)
	if rep.FirstBroken != nil {
		fmt.Fprintf(w, "  first break: %s\n", rep.FirstBroken)
	}
}

// runChain is `auditctl chain keygen`: a signing key for tamper_evidence.signing_key_file.
func runChain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "keygen" {
		return exitCode(usagef("chain: expected the subcommand keygen"), stdout, stderr)
	}
	fs := flag.NewFlagSet("auditctl chain keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "signing-key", "write OUT.pem (private, mode 0600) and OUT.pub.pem")
	pos, err := parse(fs, args[1:])
	if err == nil && len(pos) > 0 {
		err = usagef("chain keygen: unexpected argument %q", pos[0])
	}
	if err == nil {
		err = keygen(*out, stdout)
	}
	return exitCode(err, stdout, stderr)
}

func keygen(out string, stdout io.Writer) error {
	priv, pub, err := chain.GenerateKey()
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite a key that may have signed checkpoints.
	f, err := os.OpenFile(out+".pem", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("chain keygen: %w", err)
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return fmt.Errorf("chain keygen: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chain keygen: %w", err)
	}
	if err := os.WriteFile(out+".pub.pem", pub, 0o644); err != nil {
		return fmt.Errorf("chain keygen: %w", err)
	}
	key, err := chain.LoadPublicKey(out + ".pub.pem")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.pem (private: set tamper_evidence.signing_key_file) and %s.pub.pem (public: give it to verifiers); key id %s\n",
		out, out, chain.KeyID(key))
	return nil
}

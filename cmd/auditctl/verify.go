package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// Verify's answers beyond 0 (every chain intact and every signature checked or absent) and
// 1 (the check could not run): exitTampered when a chain is broken, exitUnknownKeys when every
// chain is intact but some checkpoints are signed by keys not given with --public-key, so
// that part of the history is not vouched for by a signature (pass the older public keys).
const (
	exitTampered    = 3
	exitUnknownKeys = 4
)

// defaultDB is the database of the collector's default configuration.
const defaultDB = "./data/audit.db"

// errTampered and errUnknownKeys carry verify's findings to exitCode's caller.
var (
	errTampered    = errors.New("tampering found")
	errUnknownKeys = errors.New("some checkpoints are signed by keys that were not given")
)

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditctl verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", defaultDB, "the SQLite database (single_database tenancy; its partition files beside it are read too)")
	tenantsDir := fs.String("tenants-dir", "", "the directory of database_per_tenant files (instead of --db)")
	tenant := fs.String("tenant", "", "verify only this tenant (default: every tenant with a chain)")
	var pubFiles []string
	fs.Func("public-key", "an Ed25519 public key (PEM) that signed checkpoints; repeat it for the keys used before a rotation", func(v string) error {
		pubFiles = append(pubFiles, v)
		return nil
	})
	cpDir := fs.String("checkpoint-dir", "", "checkpoint files kept outside the database, checked too")
	digestDir := fs.String("digests", "", "a digest directory (tamper_evidence.digests.directory): the store is compared with it")
	exportDir := fs.String("export", "", "verify an export written by `auditctl export` instead of a database")
	stateFile := fs.String("state", "", "resume after the checkpoints this file says the last intact verification reached, and record the new ones")
	full := fs.Bool("full", false, "with --state: recompute every chain from its start anyway")
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
		rng.Full = *full
	}
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	err = verify(verifyOptions{db: *db, tenantsDir: *tenantsDir, tenant: *tenant, pubFiles: pubFiles,
		cpDir: *cpDir, digestDir: *digestDir, exportDir: *exportDir, stateFile: *stateFile, rng: rng, asJSON: *asJSON}, stdout, stderr)
	switch {
	case errors.Is(err, errTampered):
		return exitTampered
	case errors.Is(err, errUnknownKeys):
		return exitUnknownKeys
	}
	return exitCode(err, stdout, stderr)
}

type verifyOptions struct {
	db, tenantsDir, tenant, cpDir string
	digestDir, exportDir          string
	stateFile                     string
	pubFiles                      []string
	rng                           chain.Range
	asJSON                        bool
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
	keys := chain.Keyring{}
	for _, path := range o.pubFiles {
		pub, err := chain.LoadPublicKey(path)
		if err != nil {
			return err
		}
		keys[chain.KeyID(pub)] = pub
	}
	if len(keys) == 0 && !o.asJSON && o.exportDir == "" {
		fmt.Fprintln(stderr, "auditctl: no --public-key: checkpoint signatures are not checked, so a rewritten chain is not detected")
	}
	if o.exportDir != "" {
		return verifyExport(o, keys, stdout, stderr)
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
		if o.digestDir != "" {
			// A tenant whose whole chain was deleted is still in the digests.
			more, err := chaindigest.Tenants(o.digestDir)
			if err != nil {
				return err
			}
			tenants = slices.Compact(slices.Sorted(slices.Values(append(tenants, more...))))
		}
		if len(tenants) == 0 {
			return errors.New("verify: no tenant has a chain in this database")
		}
	}
	state, err := loadState(o.stateFile)
	if err != nil {
		return err
	}
	whole := o.rng.Start.IsZero() && o.rng.End.IsZero()
	var reports []chain.Report
	for _, t := range tenants {
		var since *chain.Resume
		if cp, ok := state[t]; ok && whole && !o.rng.Full {
			since = &cp
		}
		rep, next, err := verifyTenant(ctx, st, o, keys, t, since)
		if err != nil {
			return fmt.Errorf("verify %s: %w", t, err)
		}
		if next != nil && whole {
			state[t] = *next
		}
		reports = append(reports, rep)
	}
	if err := saveState(o.stateFile, state); err != nil {
		return err
	}
	return printReports(stdout, reports, o.asJSON)
}

// stateEntry is one tenant's entry in the --state file.
type stateEntry struct {
	Checkpoint chain.PortableCheckpoint `json:"checkpoint"`
	// ThroughSeq (decimal) and ThroughHash are the last link recomputed.
	ThroughSeq  string `json:"through_seq"`
	ThroughHash string `json:"through_hash"`
	// Position is the store's row position through which records outside the chain were
	// looked for, in decimal.
	Position string `json:"position"`
}

// loadState reads --state: per tenant, where the last intact verification got to. A file that
// does not exist yet is an empty state.
func loadState(path string) (map[string]chain.Resume, error) {
	state := map[string]chain.Resume{}
	if path == "" {
		return state, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify: --state: %w", err)
	}
	var doc map[string]stateEntry
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("verify: --state %s: %w", path, err)
	}
	for t, e := range doc {
		cp, err := e.Checkpoint.Checkpoint()
		if err != nil {
			return nil, fmt.Errorf("verify: --state %s: tenant %q: %w", path, t, err)
		}
		pos, err := strconv.ParseInt(e.Position, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("verify: --state %s: tenant %q: position %q: want a decimal integer", path, t, e.Position)
		}
		r := chain.Resume{Checkpoint: cp, Position: pos}
		if e.ThroughSeq != "" {
			if r.ThroughSeq, err = strconv.ParseUint(e.ThroughSeq, 10, 64); err != nil {
				return nil, fmt.Errorf("verify: --state %s: tenant %q: through_seq %q: want a decimal integer", path, t, e.ThroughSeq)
			}
			if r.ThroughHash, err = chain.ParseHash(e.ThroughHash); err != nil {
				return nil, fmt.Errorf("verify: --state %s: tenant %q: through_hash: %w", path, t, err)
			}
		}
		state[t] = r
	}
	return state, nil
}

func saveState(path string, state map[string]chain.Resume) error {
	if path == "" {
		return nil
	}
	doc := make(map[string]stateEntry, len(state))
	for t, r := range state {
		doc[t] = stateEntry{Checkpoint: r.Checkpoint.Portable(), Position: strconv.FormatInt(r.Position, 10),
			ThroughSeq: strconv.FormatUint(r.ThroughSeq, 10), ThroughHash: r.ThroughHash.String()}
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	if err := atomicfile.Replace(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("verify: --state: %w", err)
	}
	return nil
}

// verifyTenant verifies one tenant's chain with the checkpoints kept outside the database
// added: checkpoint files and digests. The digests are checked first: an unbroken digest
// chain, and every checkpoint it holds still in the store as it was signed.
func verifyTenant(ctx context.Context, st store.ChainStore, o verifyOptions, keys chain.Keyring, t string, since *chain.Resume) (chain.Report, *chain.Resume, error) {
	var src chain.Source = st
	var extra []chain.Checkpoint
	if o.cpDir != "" {
		files, err := chain.ReadCheckpointFiles(o.cpDir, t)
		if err != nil {
			return chain.Report{}, nil, err
		}
		extra = append(extra, files...)
	}
	if o.digestDir != "" {
		files, err := chaindigest.ReadFiles(o.digestDir, t)
		if err != nil {
			return chain.Report{}, nil, err
		}
		return chaindigest.Verify(ctx, st, keys, t, o.rng, files, extra, since)
	}
	if len(extra) > 0 {
		src = chain.WithCheckpoints(src, extra)
	}
	return chain.VerifySince(ctx, src, keys, t, o.rng, since)
}

// printReports prints each report and returns verify's finding over all of them.
func printReports(stdout io.Writer, reports []chain.Report, asJSON bool) error {
	broken, unknown := false, false
	for _, rep := range reports {
		broken = broken || !rep.OK
		unknown = unknown || len(rep.UnknownKeys) > 0
		printReport(stdout, rep, asJSON)
	}
	switch {
	case broken:
		return errTampered
	case unknown:
		return errUnknownKeys
	}
	return nil
}

// verifyExport verifies an export directory with the given keys, or the export's own.
func verifyExport(o verifyOptions, keys chain.Keyring, stdout, stderr io.Writer) error {
	x, err := chainexport.Read(o.exportDir)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		keys = nil
		if !o.asJSON {
			fmt.Fprintln(stderr, "auditctl: no --public-key: trusting the keys the export carries (keys.json); get them from the signer to be sure")
		}
	}
	rep, err := x.Verify(keys)
	if err != nil {
		return err
	}
	return printReports(stdout, []chain.Report{rep}, o.asJSON)
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
	// A store written with sqlite.partition_max_rows keeps its newer records and every head in
	// partition files beside the file: opened alone, it would look like an old chain.
	partitioned, err := sqlitestore.HasPartitions(o.db)
	if err != nil {
		return nil, fmt.Errorf("verify: --db: %w", err)
	}
	if partitioned {
		cfg.PartitionMaxRows = math.MaxInt64 // verify inserts nothing, so no partition is made
		return sqlitestore.OpenPartitioned(ctx, cfg)
	}
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
	if rep.Digests > 0 {
		fmt.Fprintf(w, "  %d digest files match the store; seq 1-%d pinned outside the database\n", rep.Digests, rep.DigestedThrough)
	}
	if !rep.Signed {
		return
	}
	// What vouches for which part of the chain, so that history written before signing was
	// turned on, or signed by a key not given, is never mistaken for signed history.
	if rep.SignedThrough > 0 {
		fmt.Fprintf(w, "  seq 1-%d: protected by a verified signature (a signed head covers every link before it)\n", rep.SignedThrough)
	} else {
		fmt.Fprintln(w, "  no checkpoint is signed by a given key: nothing is protected by a signature")
	}
	for _, sp := range rep.Coverage {
		fmt.Fprintf(w, "  seq %d-%d: checkpointed, %s\n", sp.From, sp.To, sp.By)
	}
	if len(rep.UnknownKeys) > 0 {
		fmt.Fprintf(w, "  signed by keys not given (pass their public keys with --public-key): %s\n", strings.Join(rep.UnknownKeys, ", "))
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

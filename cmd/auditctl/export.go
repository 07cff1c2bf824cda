package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
)

// runExport is `auditctl export`: one tenant's records over a commit-time range, with what
// pins them, as a directory an auditor verifies without this code (verifier/node).
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditctl export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", defaultDB, "the SQLite database (single_database tenancy)")
	tenantsDir := fs.String("tenants-dir", "", "the directory of database_per_tenant files (instead of --db)")
	tenant := fs.String("tenant", "", "the tenant to export (required)")
	from := fs.String("from", "", "RFC 3339: from the last checkpoint at or before this commit time (default: the chain's start)")
	to := fs.String("to", "", "RFC 3339: up to the first checkpoint at or after this commit time (default: the head)")
	out := fs.String("out", "", "the directory to write (must not exist or be empty; required)")
	digests := fs.String("digests", "", "a digest directory: the tenant's digest files are included")
	var pubFiles []string
	fs.Func("public-key", "an Ed25519 public key (PEM) to include; repeat it for every key that signed", func(v string) error {
		pubFiles = append(pubFiles, v)
		return nil
	})
	pos, err := parse(fs, args)
	switch {
	case err != nil:
	case len(pos) > 0:
		err = usagef("export: unexpected argument %q", pos[0])
	case *tenant == "":
		err = usagef("export: --tenant is required: a chain belongs to one tenant")
	case *out == "":
		err = usagef("export: --out is required")
	}
	var rng chain.Range
	if err == nil {
		rng, err = parseRange(*from, *to)
	}
	if err == nil {
		err = export(context.Background(), verifyOptions{db: *db, tenantsDir: *tenantsDir, tenant: *tenant, pubFiles: pubFiles, rng: rng},
			*out, *digests, stdout)
	}
	return exitCode(err, stdout, stderr)
}

func export(ctx context.Context, o verifyOptions, out, digestDir string, stdout io.Writer) error {
	var keys []ed25519.PublicKey
	for _, path := range o.pubFiles {
		pub, err := chain.LoadPublicKey(path)
		if err != nil {
			return err
		}
		keys = append(keys, pub)
	}
	opts := chainexport.Options{Tenant: o.tenant, Range: o.rng, Keys: keys}
	if digestDir != "" {
		files, err := chaindigest.ReadFiles(digestDir, o.tenant)
		if err != nil {
			return err
		}
		for _, f := range files {
			opts.Digests = append(opts.Digests, chainexport.DigestFile{Name: f.Name, Data: f.Data})
		}
	}
	st, err := openForVerify(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := chainexport.Write(ctx, out, st, st.Get, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: tenant %s, links %s-%s (head %s), %d files; verify with `auditctl verify --export %s` or `node verifier/node/verify.mjs %s`\n",
		out, m.Tenant, m.AnchorSeq, m.ToSeq, m.HeadSeq, len(m.Files), out, out)
	return nil
}

// Command auditctl is the operator's tool for an otelcol-audit data directory: it manages the
// exporter's dead-letter queue and verifies the tamper-evident hash chain.
//
//	auditctl dlq list    [--dir DIR] [--json]
//	auditctl dlq inspect [--dir DIR] [--json] NAME
//	auditctl dlq requeue [--dir DIR] [--json] NAME | --all-dead
//	auditctl verify      [--db FILE | --tenants-dir DIR] [--tenant T] [--public-key PEM] ...
//	auditctl verify      --export DIR [--public-key PEM] ...
//	auditctl export      [--db FILE | --tenants-dir DIR] --tenant T [--from T] [--to T] --out DIR
//	auditctl chain keygen [--out PREFIX]
//
// Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 verify found tampering, 4
// verify found every chain intact but some checkpoints signed by keys not given. It
// never deletes a batch; see internal/dlq/README.md and docs/TAMPER_EVIDENCE.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// defaultDir is where the collector's default configuration keeps its DLQ.
const defaultDir = "./data/dlq"

const usage = `usage: auditctl <command> [arguments]

commands:
  dlq list    [--dir DIR] [--json]                list batch files, oldest first
  dlq inspect [--dir DIR] [--json] NAME           show one batch: header and records
  dlq requeue [--dir DIR] [--json] NAME           give a dead batch a fresh round of retries
  dlq requeue [--dir DIR] [--json] --all-dead     ... every dead batch
  dlq salvage [--dir DIR] [--json] NAME           queue the intact records of a damaged batch again

  verify [--db FILE | --tenants-dir DIR] [--tenant T] [--public-key PEM]...
         [--checkpoint-dir DIR] [--digests DIR] [--start RFC3339] [--end RFC3339] [--json]
         [--state FILE [--full]]
                                                  recompute each tenant's hash chain (with
                                                  --state, only after the last verified checkpoint)
  verify --export DIR [--public-key PEM]... [--json]
                                                  verify an export instead of a database
  export [--db FILE | --tenants-dir DIR] --tenant T [--from RFC3339] [--to RFC3339]
         [--public-key PEM]... [--digests DIR] --out DIR
                                                  write a tenant's evidence for an auditor
  chain keygen [--out PREFIX]                     make a checkpoint signing key pair

NAME is a file name from "dlq list" (with or without its .batch/.dead extension).
--dir defaults to ` + defaultDir + `, --db to ` + defaultDB + `.
Exit codes: 0 ok, 1 failed, 2 usage, 3 verify found tampering, 4 verify: intact, but some
checkpoints are signed by keys not given with --public-key.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, in-process testable: it writes results to stdout, errors and
// usage to stderr, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "dlq":
		return runDLQ(args[1:], stdout, stderr)
	case "verify":
		return runVerify(args[1:], stdout, stderr)
	case "chain":
		return runChain(args[1:], stdout, stderr)
	case "export":
		return runExport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "auditctl: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// usageError is a mistake in the command line: exit code 2, with the usage text.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitCode reports err the way the command's contract says and returns the code.
func exitCode(err error, stdout, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "auditctl: %s\n\n%s", ue.msg, usage)
		return exitUsage
	}
	fmt.Fprintf(stderr, "auditctl: %v\n", err)
	return exitFail
}

// parse parses flags placed before, between or after the positional arguments (flag alone
// stops at the first positional one; an operator types `inspect NAME --json` as often as
// `inspect --json NAME`). Everything after "--" is positional.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
)

func runDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return exitCode(usagef("dlq: missing subcommand (list, inspect, requeue, salvage)"), stdout, stderr)
	}
	fs := flag.NewFlagSet("auditctl dlq "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by exitCode, with the usage
	dir := fs.String("dir", defaultDir, "the DLQ directory")
	asJSON := fs.Bool("json", false, "machine-readable output")
	var err error
	switch args[0] {
	case "list":
		err = dlqList(fs, args[1:], dir, asJSON, stdout)
	case "inspect":
		err = dlqInspect(fs, args[1:], dir, asJSON, stdout)
	case "requeue":
		allDead := fs.Bool("all-dead", false, "requeue every dead batch")
		err = dlqRequeue(fs, args[1:], dir, asJSON, allDead, stdout)
	case "salvage":
		err = dlqSalvage(fs, args[1:], dir, asJSON, stdout)
	default:
		err = usagef("dlq: unknown subcommand %q", args[0])
	}
	return exitCode(err, stdout, stderr)
}

func dlqList(fs *flag.FlagSet, args []string, dir *string, asJSON *bool, stdout io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("dlq list: unexpected argument %q", pos[0])
	}
	entries, err := dlq.List(*dir)
	if err != nil {
		return err
	}
	if *asJSON {
		if entries == nil {
			entries = []dlq.Entry{}
		}
		return writeJSON(stdout, map[string]any{"dir": *dir, "files": entries})
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintf(stdout, "no batch files in %s\n", *dir)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tTENANT\tRECORDS\tSIZE\tFAILURES\tCREATED (UTC)\tLAST ERROR")
	counts := map[dlq.State]int{}
	var total int64
	for _, e := range entries {
		counts[e.State]++
		total += e.Bytes
		last := e.LastError
		if e.Problem != "" {
			last = "UNREADABLE: " + e.Problem
		}
		created := "-"
		if !e.CreatedAt.IsZero() {
			created = e.CreatedAt.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", e.Name, e.State, printable(e.Tenant, 32),
			e.Records, size(e.Bytes), e.Failures, created, printable(last, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "\n%d files (%d batch, %d processing, %d dead, %d corrupt), %s in %s\n", len(entries),
		counts[dlq.StateBatch], counts[dlq.StateProcessing], counts[dlq.StateDead], counts[dlq.StateCorrupt], size(total), *dir)
	return err
}

func dlqInspect(fs *flag.FlagSet, args []string, dir *string, asJSON *bool, stdout io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dlq inspect: want exactly one NAME, got %d arguments", len(pos))
	}
	in, err := dlq.Inspect(*dir, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, in)
	}
	h := in.Header
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", in.Name)
	fmt.Fprintf(tw, "state:\t%s\n", in.State)
	fmt.Fprintf(tw, "tenant:\t%s\n", printable(in.Header.Tenant, 0))
	fmt.Fprintf(tw, "created:\t%s\n", h.CreatedAt.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(tw, "records:\t%d\n", h.Records)
	fmt.Fprintf(tw, "size:\t%s\n", size(in.Bytes))
	fmt.Fprintf(tw, "failures:\t%d\n", h.Failures)
	fmt.Fprintf(tw, "requeues:\t%d\n", h.Requeues)
	if h.LastAttemptAt != nil {
		fmt.Fprintf(tw, "last attempt:\t%s\n", h.LastAttemptAt.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(tw, "last error:\t%s\n", printable(h.LastError, 0))
	fmt.Fprintf(tw, "format:\t%s v%d\n", h.Format, h.Version)
	if in.Damage != "" {
		fmt.Fprintf(tw, "DAMAGED:\t%s\n", in.Damage)
		fmt.Fprintf(tw, "intact records:\t%d (shown below; `auditctl dlq salvage %s` queues them again)\n", len(in.Records), in.Name)
		fmt.Fprintf(tw, "lost records:\t%d (damaged lines %v)\n", in.Lost, in.DamagedLines)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nrecords (one JSON object per line):")
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // show messages as sent, not with < and & escaped
	for i := range in.Records {
		if err := enc.Encode(&in.Records[i]); err != nil {
			return fmt.Errorf("render record %d: %w", i, err)
		}
	}
	return nil
}

func dlqSalvage(fs *flag.FlagSet, args []string, dir *string, asJSON *bool, stdout io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dlq salvage: want exactly one NAME, got %d arguments", len(pos))
	}
	name, salvaged, lost, err := dlq.Salvage(*dir, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"batch": name, "salvaged": salvaged, "lost": lost})
	}
	_, err = fmt.Fprintf(stdout, "salvaged %d records into %s (%d lost); the damaged file is kept as .corrupt\n", salvaged, name, lost)
	return err
}

func dlqRequeue(fs *flag.FlagSet, args []string, dir *string, asJSON, allDead *bool, stdout io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *allDead && len(pos) > 0:
		return usagef("dlq requeue: give either NAME or --all-dead, not both")
	case !*allDead && len(pos) != 1:
		return usagef("dlq requeue: want exactly one NAME (or --all-dead), got %d arguments", len(pos))
	}
	var done []string
	if *allDead {
		done, err = dlq.RequeueAllDead(*dir)
	} else {
		var name string
		if name, err = dlq.Requeue(*dir, pos[0]); err == nil {
			done = []string{name}
		}
	}
	// Report what was requeued even when a later file failed.
	if *asJSON {
		if done == nil {
			done = []string{}
		}
		if jerr := writeJSON(stdout, map[string]any{"requeued": done}); err == nil {
			err = jerr
		}
		return err
	}
	for _, n := range done {
		fmt.Fprintf(stdout, "requeued %s\n", n)
	}
	if err == nil && len(done) == 0 {
		fmt.Fprintf(stdout, "no dead batches in %s\n", *dir)
	}
	if err == nil && len(done) > 0 {
		fmt.Fprintln(stdout, "a running collector retries requeued batches at its next scan")
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printable keeps one table row on one line: control characters, invalid UTF-8 and newlines
// (a driver error can hold a whole statement) are escaped, and the text is cut to max runes
// (0: no limit). An empty value shows as "-".
func printable(s string, max int) string {
	if s == "" {
		return "-"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s = strings.TrimSuffix(strings.TrimPrefix(strconv.Quote(s), `"`), `"`)
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

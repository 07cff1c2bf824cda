package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// fixture builds a real DLQ directory: one dead batch (tenant acme, 2 records, refused as
// invalid), one pending batch (tenant globex, 3 records, one failed retry), one torn file.
func fixture(t *testing.T) (dir, dead, pending, torn string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "dlq")
	q, err := dlq.Open(dir, dlq.Options{})
	require.NoError(t, err)
	rec := func(id, tenant string) record.Record {
		return record.Record{ID: id, TenantID: tenant, Timestamp: time.Date(2026, 11, 23, 1, 40, 0, 0, time.UTC),
			Level: record.LevelInfo, Event: "user.login", Message: "login ok", UserID: "u-1"}
	}
	require.NoError(t, q.Put("acme", []record.Record{rec("a-1", "acme"), rec("a-2", "acme")}, errors.New("insert: database is locked")))
	invalid := func(context.Context, string, []record.Record) error {
		return consumererror.NewPermanent(fmt.Errorf("sqlitestore: insert: record 0: %w: timestamp out of range", store.ErrInvalidRecord))
	}
	_, err = q.Scan(context.Background(), invalid)
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond) // distinct creation milliseconds: a stable order
	require.NoError(t, q.Put("globex", []record.Record{rec("g-1", "globex"), rec("g-2", "globex"), rec("g-3", "globex")}, errors.New("dial tcp: connection refused")))
	down := func(context.Context, string, []record.Record) error {
		return errors.New("dial tcp 127.0.0.1:9000: connection refused")
	}
	_, err = q.Scan(context.Background(), down)
	require.NoError(t, err)
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		switch {
		case strings.HasSuffix(n.Name(), ".dead"):
			dead = n.Name()
		case strings.HasSuffix(n.Name(), ".batch"):
			pending = n.Name()
		}
	}
	require.NotEmpty(t, dead, "fixture: files %v", names)
	require.NotEmpty(t, pending, "fixture: files %v", names)
	data, err := os.ReadFile(filepath.Join(dir, pending))
	require.NoError(t, err)
	torn = "initech_9999999999999_00000000000000ff.batch"
	require.NoError(t, os.WriteFile(filepath.Join(dir, torn), data[:len(data)/2], 0o600))
	return dir, dead, pending, torn
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDLQList_PrintsAnAlignedTableOldestFirstWithASummary(t *testing.T) {
	dir, dead, pending, torn := fixture(t)
	code, out, errOut := runCmd("dlq", "list", "--dir", dir)
	require.Equal(t, exitOK, code, "exit %d, stderr %q", code, errOut)
	require.Empty(t, errOut, "exit %d, stderr %q", code, errOut)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 6, "output has %d lines, want header, 3 rows, blank, summary:\n%s", len(lines), out)
	for i, want := range []string{dead, pending, torn} {
		assert.True(t, strings.HasPrefix(lines[i+1], want+" "), "row %d = %q, want it to start with %s", i+1, lines[i+1], want)
	}
	// Aligned: every column starts at the same offset on every row.
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:4] {
		assert.Equal(t, "  ", l[col-2:col], "row not aligned under STATE at %d: %q", col, l)
		assert.NotEqual(t, byte(' '), l[col], "row not aligned under STATE at %d: %q", col, l)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\.dead\s+dead\s+acme\s+2\s+[\d.]+ (?:B|KiB)\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+sqlitestore: insert: record 0: invalid record`),
		regexp.MustCompile(`\.batch\s+batch\s+globex\s+3\s+[\d.]+ (?:B|KiB)\s+1\s+.*connection refused`),
		regexp.MustCompile(`initech_.*\.batch\s+batch\s+globex\s+3\s+.*UNREADABLE: corrupt batch file`),
	} {
		assert.Regexp(t, want, out, "output does not match %s:\n%s", want, out)
	}
	assert.Contains(t, lines[5], "3 files (2 batch, 0 processing, 1 dead, 0 corrupt)", "summary = %q", lines[5])
}

func TestDLQList_JSONListsEveryFileForScripts(t *testing.T) {
	dir, dead, _, torn := fixture(t)
	code, out, _ := runCmd("dlq", "list", "--json", "--dir", dir)
	require.Equal(t, exitOK, code, "exit %d", code)
	var got struct {
		Files []dlq.Entry `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), "not JSON:\n%s", out)
	require.Len(t, got.Files, 3, "files = %+v", got.Files)
	assert.Equal(t, dead, got.Files[0].Name, "files = %+v", got.Files)
	assert.Equal(t, dlq.StateDead, got.Files[0].State, "files = %+v", got.Files)
	assert.Equal(t, torn, got.Files[2].Name, "files = %+v", got.Files)
	assert.NotEmpty(t, got.Files[2].Problem, "files = %+v", got.Files)
}

func TestDLQList_OfAMissingDirectoryFailsAndSaysSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nonexistent")
	code, out, errOut := runCmd("dlq", "list", "--dir", dir)
	const msg = "exit %d, output %q, errors %q; want a failure saying the directory does not exist"
	assert.NotEqual(t, exitOK, code, msg, code, out, errOut)
	assert.NotContains(t, out, "no batch files", msg, code, out, errOut)
	assert.Contains(t, errOut, "does not exist", msg, code, out, errOut)
}

func TestDLQList_OfAnEmptyDirectorySaysSo(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := runCmd("dlq", "list", "--dir", dir)
	assert.Equal(t, exitOK, code, "exit %d, output %q", code, out)
	assert.Contains(t, out, "no batch files in "+dir, "exit %d, output %q", code, out)
	code, out, _ = runCmd("dlq", "list", "--dir", dir, "--json")
	assert.Equal(t, exitOK, code, "exit %d, JSON %q, want an empty files array", code, out)
	assert.Contains(t, out, `"files": []`, "exit %d, JSON %q, want an empty files array", code, out)
}

func TestDLQInspect_ShowsTheHeaderAndOneRecordPerLine(t *testing.T) {
	dir, dead, _, _ := fixture(t)
	id := strings.TrimSuffix(dead, ".dead")
	// The name without its extension, and the flags after it, are accepted too.
	code, out, errOut := runCmd("dlq", "inspect", id, "--dir", dir)
	require.Equal(t, exitOK, code, "exit %d, stderr %q", code, errOut)
	for _, want := range []string{
		"name:          " + dead + "\n",
		"state:         dead\n",
		"tenant:        acme\n",
		"records:       2\n",
		"failures:      1\n",
		"last error:    sqlitestore: insert: record 0: invalid record: timestamp out of range\n",
		"records (one JSON object per line):\n{\"id\":\"a-1\"",
		"\n{\"id\":\"a-2\"",
	} {
		assert.Contains(t, out, want, "output lacks %q:\n%s", want, out)
	}
}

func TestDLQInspect_JSONHoldsHeaderAndRecords(t *testing.T) {
	dir, dead, _, _ := fixture(t)
	code, out, _ := runCmd("dlq", "inspect", "--json", "--dir", dir, dead)
	require.Equal(t, exitOK, code, "exit %d", code)
	var got dlq.Inspection
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "acme", got.Header.Tenant, "inspection = %+v", got)
	assert.Equal(t, 1, got.Header.Failures, "inspection = %+v", got)
	require.Len(t, got.Records, 2, "inspection = %+v", got)
	assert.Equal(t, "a-2", got.Records[1].ID, "inspection = %+v", got)
}

func TestDLQInspect_FailsWithExitOneOnAMissingBatch(t *testing.T) {
	dir, _, _, torn := fixture(t)
	cases := []struct{ name, arg, want string }{
		{"a missing batch is reported", "nope_1_00", "batch file not found"},
		{"a path outside the directory is refused", "../../etc/passwd", "not a batch file name"},
	}
	// A torn batch is shown, damage and all (TestDLQ_ADamagedBatchIsInspectedAndSalvaged).
	code, out, _ := runCmd("dlq", "inspect", "--dir", dir, torn)
	assert.Equal(t, exitOK, code, "inspect of a torn batch: exit %d, stdout %q", code, out)
	assert.Contains(t, out, "DAMAGED:         corrupt batch file", "inspect of a torn batch: exit %d, stdout %q", code, out)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd("dlq", "inspect", "--dir", dir, tc.arg)
			const msg = "exit %d, stdout %q, stderr %q; want 1 and %q"
			assert.Equal(t, exitFail, code, msg, code, out, errOut, tc.want)
			assert.Empty(t, out, msg, code, out, errOut, tc.want)
			assert.Contains(t, errOut, tc.want, msg, code, out, errOut, tc.want)
		})
	}
}

func TestDLQRequeue_MovesADeadBatchBackWithItsFailureCountReset(t *testing.T) {
	dir, dead, _, _ := fixture(t)
	code, out, errOut := runCmd("dlq", "requeue", "--dir", dir, dead)
	id := strings.TrimSuffix(dead, ".dead")
	require.Equal(t, exitOK, code, "exit %d, stdout %q, stderr %q", code, out, errOut)
	require.Contains(t, out, "requeued "+id+".batch\n", "exit %d, stdout %q, stderr %q", code, out, errOut)
	in, err := dlq.Inspect(dir, id)
	require.NoError(t, err)
	assert.Equal(t, dlq.StateBatch, in.State, "after requeue: state %s, header %+v", in.State, in.Header)
	assert.Equal(t, 0, in.Header.Failures, "after requeue: state %s, header %+v", in.State, in.Header)
	assert.Equal(t, 1, in.Header.Requeues, "after requeue: state %s, header %+v", in.State, in.Header)
	code, _, errOut = runCmd("dlq", "requeue", "--dir", dir, id+".batch")
	assert.Equal(t, exitFail, code, "requeue of a pending batch: exit %d, stderr %q; want 1, not dead", code, errOut)
	assert.Contains(t, errOut, "batch is not dead", "requeue of a pending batch: exit %d, stderr %q; want 1, not dead", code, errOut)
}

func TestDLQRequeue_AllDeadReportsEveryNameAsJSON(t *testing.T) {
	dir, dead, _, _ := fixture(t)
	code, out, _ := runCmd("dlq", "requeue", "--all-dead", "--json", "--dir", dir)
	require.Equal(t, exitOK, code, "exit %d", code)
	var got struct{ Requeued []string }
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Requeued, 1, "requeued = %v", got.Requeued)
	assert.Equal(t, strings.TrimSuffix(dead, ".dead")+".batch", got.Requeued[0], "requeued = %v", got.Requeued)
	code, out, _ = runCmd("dlq", "requeue", "--all-dead", "--dir", dir)
	assert.Equal(t, exitOK, code, "second run: exit %d, %q", code, out)
	assert.Contains(t, out, "no dead batches", "second run: exit %d, %q", code, out)
}

func TestRun_UsageErrorsExitWithTwoAndPrintTheUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no command at all", nil},
		{"an unknown command", []string{"wal"}},
		{"dlq without a subcommand", []string{"dlq"}},
		{"an unknown dlq subcommand", []string{"dlq", "purge"}},
		{"an unknown flag", []string{"dlq", "list", "--force"}},
		{"list with an argument", []string{"dlq", "list", "extra"}},
		{"inspect without a name", []string{"dlq", "inspect"}},
		{"inspect with two names", []string{"dlq", "inspect", "a", "b"}},
		{"requeue without a name", []string{"dlq", "requeue"}},
		{"requeue with a name and --all-dead", []string{"dlq", "requeue", "x", "--all-dead"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			const msg = "exit %d, stdout %q, stderr %q; want 2 and the usage on stderr"
			assert.Equal(t, exitUsage, code, msg, code, out, errOut)
			assert.Empty(t, out, msg, code, out, errOut)
			assert.Contains(t, errOut, "usage: auditctl", msg, code, out, errOut)
		})
	}
}

func TestRun_HelpPrintsTheUsageAndSucceeds(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"dlq", "list", "-h"}} {
		code, out, _ := runCmd(args...)
		assert.Equal(t, exitOK, code, "%v: exit %d, stdout %q", args, code, out)
		assert.Contains(t, out, "usage: auditctl", "%v: exit %d, stdout %q", args, code, out)
	}
}

// A damaged batch: inspect shows its intact records and where the damage is, salvage queues
// them as a new batch and keeps the damaged file as .corrupt.
func TestDLQ_ADamagedBatchIsInspectedAndSalvaged(t *testing.T) {
	dir := t.TempDir()
	q, err := dlq.Open(dir, dlq.Options{})
	require.NoError(t, err)
	recs := make([]record.Record, 10)
	for i := range recs {
		recs[i] = record.Record{ID: fmt.Sprintf("s-%02d", i), TenantID: "acme", Timestamp: time.Unix(int64(1000+i), 0), Level: record.LevelInfo}
	}
	require.NoError(t, q.Put("acme", recs, errors.New("store down")))
	q.Stop()
	entries, _ := os.ReadDir(dir)
	path := filepath.Join(dir, entries[0].Name())
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	off := len(strings.Join(lines[:4], "")) + 10 // inside record 3 (line 4)
	data[off] ^= 0x01
	require.NoError(t, os.WriteFile(path, data, 0o600))

	code, out, errOut := runCmd("dlq", "inspect", "--dir", dir, entries[0].Name())
	require.Equal(t, exitOK, code, "inspect: exit %d\n%s%s", code, out, errOut)
	require.Contains(t, out, "DAMAGED", "inspect: exit %d\n%s%s", code, out, errOut)
	require.Contains(t, out, "intact records:  9", "inspect: exit %d\n%s%s", code, out, errOut)
	require.Contains(t, out, "damaged lines [5]", "inspect: exit %d\n%s%s", code, out, errOut)
	code, out, errOut = runCmd("dlq", "salvage", "--dir", dir, entries[0].Name())
	require.Equal(t, exitOK, code, "salvage: exit %d\n%s%s", code, out, errOut)
	require.Contains(t, out, "salvaged 9 records", "salvage: exit %d\n%s%s", code, out, errOut)
	require.Contains(t, out, "(1 lost)", "salvage: exit %d\n%s%s", code, out, errOut)
	files, _ := os.ReadDir(dir)
	var states []string
	for _, f := range files {
		states = append(states, filepath.Ext(f.Name()))
	}
	slices.Sort(states)
	assert.Equal(t, []string{".batch", ".corrupt"}, states, "files after salvage: %v, want the new .batch and the damaged file as .corrupt", states)
}

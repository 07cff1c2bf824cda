package clickhousestore

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// chdbDir is the npm project of the chDB check, relative to this package.
const chdbDir = "../../../chdb"

type chdbResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Rows  [][]any
}

// chdbOutput is one entry of check.mjs's answer: rows as JSONCompactEachRow lines.
type chdbOutput struct {
	chdbResult
	Lines []string `json:"rows"`
}

// runOnCHDB executes statements on chDB's embedded ClickHouse. Without node or the installed
// packages it skips locally and fails under CI, where scripts/clickhouse/install-chdb.sh must
// have run.
func runOnCHDB(t *testing.T, stmts []Statement) map[string]chdbResult {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(chdbDir, "node_modules", "chdb", "package.json")); err != nil {
		missing = "chdb/node_modules/chdb is absent (run scripts/clickhouse/install-chdb.sh)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			require.FailNow(t, "the modern SQL check cannot run under CI: "+missing)
		}
		t.Skip(missing + " (under CI this fails instead)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "statements.json")
	b, err := json.Marshal(stmts)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b, 0o600))
	cmd := exec.Command("node", "check.mjs", file, filepath.Join(dir, "session"))
	cmd.Dir = chdbDir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var outputs []chdbOutput
	require.NoError(t, json.Unmarshal(out, &outputs), "node check.mjs (exit: %v)\nstdout: %s\nstderr: %s", runErr, out, stderr.String())
	results := make([]chdbResult, len(outputs))
	for i, o := range outputs {
		results[i] = o.chdbResult
		for _, line := range o.Lines {
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber() // Int64 nanoseconds must not round through float64
			var row []any
			require.NoErrorf(t, dec.Decode(&row), "%s: row %q", o.Name, line)
			results[i].Rows = append(results[i].Rows, row)
		}
	}
	byName := map[string]chdbResult{}
	for _, r := range results {
		assert.True(t, r.OK, "chDB refused %q: %s", r.Name, r.Error)
		byName[r.Name] = r
	}
	if !t.Failed() {
		assert.NoError(t, runErr, "node check.mjs failed without a failed statement\n%s", stderr.String())
	}
	t.Logf("chDB engine %v ran %d statements", byName["engine version"].Rows, len(results)-1)
	return byName
}

// resultColumn returns column i of every row, as text.
func resultColumn(r chdbResult, i int) []string {
	out := make([]string, len(r.Rows))
	for j, row := range r.Rows {
		if i < len(row) {
			out[j] = fmt.Sprint(row[i])
		}
	}
	return out
}

func TestModernStatements_RunOnCurrentClickHouse(t *testing.T) {
	// The server applies TTL against its own clock, so the fixture must be relative to it.
	now := time.Now().UTC()
	cfg := DefaultConfig()
	cfg.Database = "audit_chdb"
	cfg.TTL = map[string]time.Duration{"debug": 30 * 24 * time.Hour, "info": 3650 * 24 * time.Hour}
	stmts, err := ModernStatements(cfg, now)
	require.NoError(t, err, "ModernStatements")
	// After Prune, the store must read what is left: the same query shape as the first page.
	d := dialect{mode: modeModern, db: cfg.Database, table: cfg.Table}
	after, err := d.querySQL(store.Filter{}, nil, 10)
	require.NoError(t, err)
	stmts = append(stmts, Statement{Name: "query: after prune", SQL: after},
		Statement{Name: "chain: head hash", SQL: "SELECT lower(hex(hash)), lower(hex(record_hash)) FROM " + d.chain() + " WHERE tenant_id = 'acme' AND seq = 3"})

	res := runOnCHDB(t, stmts)
	if t.Failed() {
		return
	}
	links := StatementChainLinks(now)
	checkpointDoc, err := json.Marshal(chain.Checkpoint{Tenant: "acme", Seq: 3, Head: links[2].Hash, Time: now, Kind: chain.KindPeriodic})
	require.NoError(t, err)
	checks := []struct {
		name string
		col  int
		want []string
	}{
		{"migrate: read schema version", 1, []string{"modern.2"}},
		// st-3 is globex's: the lookup is acme's, and identity is (tenant_id, id).
		{"insert: look up stored ids", 0, []string{"st-0", "st-1", "st-2", "st-4"}},
		{"query: first page, no filter", 0, []string{"st-3", "st-2", "st-1"}},
		{"query: every filter field", 0, []string{"st-1"}},
		{"query: after a cursor", 0, []string{"st-1", "st-4", "st-0"}},
		{"query: a prefix phrase", 0, []string{"st-3", "st-2", "st-1"}},
		{"query: a tag no record holds", 0, nil},
		{"query: a word of a tag", 0, []string{"st-3", "st-2", "st-1"}},
		{"get: one tenant", 0, []string{"st-1"}},
		{"get: across tenants", 1, []string{"globex"}},
		{"trace", 0, []string{"st-0", "st-4", "st-1", "st-2", "st-3"}},
		{"stats: top events", 0, []string{"user.login"}},
		{"stats: top users", 1, []string{"2"}},
		{"prune: count expired after", 0, nil},
		{"prune: pending mutations", 0, []string{"0"}},
		{"query: after prune", 0, []string{"st-3", "st-2", "st-1"}},
		{"chain: read start", 1, []string{"1"}},
		{"chain: look up linked ids", 0, []string{"st-0", "st-1", "st-2"}},
		{"chain: head seq", 0, []string{"3"}},
		{"chain: links page", 1, []string{"st-0", "st-1", "st-2"}},
		{"chain: records of a page", 0, []string{"st-0", "st-1", "st-2"}},
		{"chain: unchained", 0, []string{"st-4"}},
		{"chain: tenants", 0, []string{"acme", "globex"}},
		{"chain: head hash", 0, []string{links[2].Hash.String()}},
		{"chain: head hash", 1, []string{links[2].RecordHash.String()}},
		{"checkpoint: read", 0, []string{string(checkpointDoc)}},
	}
	for _, c := range checks {
		got := resultColumn(res[c.name], c.col)
		if c.name == "insert: look up stored ids" || c.name == "chain: look up linked ids" || c.name == "chain: records of a page" {
			slices.Sort(got)
		}
		if len(c.want) == 0 {
			assert.Empty(t, got, "%s: column %d", c.name, c.col)
		} else {
			assert.Equal(t, c.want, got, "%s: column %d", c.name, c.col)
		}
	}
	// The record read back from chDB decodes into what was inserted.
	got := res["get: one tenant"]
	if len(got.Rows) == 1 {
		want := StatementFixture(now)[1]
		assert.Equal(t, want.ID, fmt.Sprint(got.Rows[0][0]), "get: id")
		assert.Equal(t, fmt.Sprint(want.Timestamp.UnixNano()), fmt.Sprint(got.Rows[0][2]), "get: timestamp ns")
	}
	counts := map[string]string{}
	for _, row := range res["prune: count expired"].Rows {
		counts[fmt.Sprint(row[0])] = fmt.Sprint(row[1])
	}
	assert.Equal(t, map[string]string{"1": "1", "2": "1"}, counts, "prune: count expired, want one debug (level 1) and one info (level 2) record")
	assert.True(t, slices.ContainsFunc(stmts, func(s Statement) bool { return strings.HasPrefix(s.Name, "prune: drop partition") }),
		"the fixture's 400-day-old month was not offered for DROP PARTITION")
}

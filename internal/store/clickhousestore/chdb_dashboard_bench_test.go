//go:build chdb

package clickhousestore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkCHDB_DashboardQueriesWithAndWithoutFinal times each query of the Grafana dashboard
// on 300,000 rows of one month (three tenants, written in 30 blocks with merges stopped, so 30
// parts), as the
// dashboard has it (FINAL) and with FINAL removed:
//
//	CHDB_LIB_PATH=.../libchdb.so go test -tags chdb -run '^$' -bench CHDB_Dashboard -benchtime 5x ./internal/store/clickhousestore/
func BenchmarkCHDB_DashboardQueriesWithAndWithoutFinal(b *testing.B) {
	s := openCHDBStore(b, nil)
	d, err := s.dialect(context.Background())
	require.NoError(b, err)
	sess := s.conn.(*chdbConn).s
	const rows, blocks = 300000, 30
	// Merges stopped: 30 parts in one partition for every run, FINAL's worst case until the
	// background merges catch up, and no merge competing with the reads being timed.
	_, err = sess.exec("SYSTEM STOP MERGES " + d.logs())
	require.NoError(b, err)
	for i := 0; i < blocks; i++ {
		// The values the store would write for such records; generated in the engine, since
		// what is timed is the reads.
		_, err = sess.exec(fmt.Sprintf("INSERT INTO %s (Timestamp, ObservedTimestamp, TraceId, SeverityText, SeverityNumber, ServiceName, Body, "+
			"ScopeName, LogAttributes, EventName, id, tenant_id, level, user_id, search_text, insert_version, attributes_json, resource_json) "+
			"SELECT toDateTime64('2026-03-01 00:00:00', 9) + toIntervalSecond(number * 8), now64(9), lower(hex(cityHash64(number %% 5000))), "+
			"['DEBUG','INFO','WARN','ERROR','FATAL'][number %% 5 + 1], [5,9,13,17,21][number %% 5 + 1], 'auth', concat('event body ', toString(number)), 'auth', "+
			"map('user.id', concat('u-', toString(number %% 200)), 'tenant.id', ['acme','globex','initech'][number %% 3 + 1]), "+
			"['user.login','auth.failed','document.shared','document.deleted'][number %% 4 + 1], concat('m-', toString(number)), "+
			"['acme','globex','initech'][number %% 3 + 1], number %% 5 + 1, concat('u-', toString(number %% 200)), ' event body ', "+
			"18446744073709551615 - number, '{}', '{}' FROM numbers(%d, %d)", d.logs(), i*rows/blocks, rows/blocks))
		require.NoError(b, err)
	}
	r := grafanaRange{from: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), interval: time.Hour}
	vars := map[string]string{"table": d.logs(), "tenant": "acme", "user": "", "trace_id": "abc"}
	for _, q := range dashboardQueries(b) {
		sql := interpolate(b, q.sql, r, vars)
		for _, final := range []bool{true, false} {
			stmt := sql
			if !final {
				stmt = strings.ReplaceAll(sql, " FINAL", "")
			}
			b.Run(fmt.Sprintf("%s/final=%v", q.name, final), func(b *testing.B) {
				for b.Loop() {
					_, err := sess.exec(stmt)
					require.NoError(b, err)
				}
			})
		}
	}
}

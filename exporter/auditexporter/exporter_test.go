package auditexporter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// testConfig is the default config on temp directories with a short flush interval.
func testConfig(t *testing.T) *Config {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.DataDir = dir
	cfg.Batch.FlushInterval = 20 * time.Millisecond
	return cfg
}

// storePath is where the tests' auditstore keeps its SQLite file: beside cfg's WAL and DLQ.
func storePath(cfg *Config) string { return filepath.Join(cfg.DataDir, "audit.db") }

// storeHost starts the real shared store on storePath(cfg) (its store wrapped by wrap, when
// set) and returns a host that offers it under cfg.Store. It closes at cleanup, after the
// exporter, as the collector closes extensions after pipelines.
func storeHost(t testing.TB, cfg *Config, wrap func(store.Store) store.Store) (extensionsHost, *sharedstore.Shared) {
	t.Helper()
	scfg := sharedstore.DefaultConfig()
	scfg.SQLite.Path = storePath(cfg)
	scfg.TamperEvidence.Enabled = false
	st, err := sqlitestore.Open(context.Background(), scfg.SQLite)
	require.NoError(t, err)
	var wrapped store.Store = st
	if wrap != nil {
		wrapped = wrap(st)
	}
	shared := sharedstore.Over(wrapped, scfg, zap.NewNop())
	require.NoError(t, shared.Start(context.Background(), nil))
	t.Cleanup(func() { _ = shared.Shutdown(context.Background()) })
	return extensionsHost{cfg.Store: shared}, shared
}

// startExporter runs a real exporter on a temp SQLite file and returns it with the file's path.
func startExporter(t *testing.T, edit func(*Config), host component.Host) (exporter.Logs, string) {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(cfg)
	}
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	if host == nil {
		host, _ = storeHost(t, cfg, nil)
	}
	require.NoError(t, exp.Start(context.Background(), host))
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp, storePath(cfg)
}

// readAll opens the database the exporter wrote, after the exporter has closed it.
func readAll(t *testing.T, exp exporter.Logs, path string) []record.Record {
	t.Helper()
	require.NoError(t, exp.Shutdown(context.Background()))
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	defer st.Close()
	res, err := st.Query(context.Background(), store.Filter{}, store.Page{Limit: store.MaxLimit})
	require.NoError(t, err)
	return res.Records
}

func logsWith(recs ...func(plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, fill := range recs {
		fill(lrs.AppendEmpty())
	}
	return ld
}

func event(name, tenant string, sev plog.SeverityNumber) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName(name)
		lr.SetSeverityNumber(sev)
		if tenant != "" {
			lr.Attributes().PutStr("tenant.id", tenant)
		}
	}
}

func TestExporter_StoresEveryTenantsRecordsWithAssignedIDs(t *testing.T) {
	exp, path := startExporter(t, nil, nil)
	ld := logsWith(
		event("a.created", "acme", plog.SeverityNumberInfo),
		event("b.created", "globex", plog.SeverityNumberInfo),
		event("c.created", "", plog.SeverityNumberInfo),
	)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	// A replay of the same (now id-carrying) logs must not duplicate anything.
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	got := map[string]string{}
	for _, r := range readAll(t, exp, path) {
		assert.NotEmpty(t, r.ID, "record %q has no id", r.Event)
		prev, dup := got[r.Event]
		assert.False(t, dup, "event %q stored twice (tenants %q, %q)", r.Event, prev, r.TenantID)
		got[r.Event] = r.TenantID
	}
	want := map[string]string{"a.created": "acme", "b.created": "globex", "c.created": record.DefaultTenant}
	require.Len(t, got, len(want), "stored %v, want %v", got, want)
	for ev, tenant := range want {
		assert.Equal(t, tenant, got[ev], "%s stored under the wrong tenant", ev)
	}
}

func TestExporter_MinLevelDropsNoiseButNeverSecurity(t *testing.T) {
	exp, path := startExporter(t, func(c *Config) { c.MinLevel = record.LevelError }, nil)
	security := func(lr plog.LogRecord) {
		lr.SetEventName("login.bruteforce")
		lr.SetSeverityNumber(plog.SeverityNumberDebug)
		lr.Attributes().PutStr("audit.level", "security")
	}
	ld := logsWith(event("debug.noise", "", plog.SeverityNumberDebug), event("warned", "", plog.SeverityNumberWarn),
		event("failed", "", plog.SeverityNumberError), security)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	var events []string
	for _, r := range readAll(t, exp, path) {
		events = append(events, r.Event)
	}
	assert.ElementsMatch(t, []string{"failed", "login.bruteforce"}, events, "want only failed and login.bruteforce stored")
}

func TestExporter_RefusesAMissingWrongOrReadOnlyStore(t *testing.T) {
	storeID := component.MustNewID("auditstore")
	readOnly := func(t *testing.T) component.Host {
		// A file a writer created, opened read-only: a query node's store.
		cfg := testConfig(t)
		_, shared := storeHost(t, cfg, nil)
		require.NoError(t, shared.Shutdown(context.Background()))
		scfg := sharedstore.DefaultConfig()
		scfg.SQLite.Path = storePath(cfg)
		scfg.ReadOnly = true
		ro := sharedstore.New(scfg, zap.NewNop())
		require.NoError(t, ro.Start(context.Background(), nil))
		t.Cleanup(func() { _ = ro.Shutdown(context.Background()) })
		return hostWith(map[component.ID]component.Component{storeID: ro})
	}
	for _, c := range []struct {
		name string
		host func(t *testing.T) component.Host
		want string
	}{
		{"the named extension is not configured", func(*testing.T) component.Host { return hostWith(nil) }, `extension "auditstore" is not configured in service.extensions`},
		{"the named extension is not an auditstore extension", func(*testing.T) component.Host {
			return hostWith(map[component.ID]component.Component{storeID: notAStore{}})
		}, "is not an auditstore extension"},
		{"the store is read-only", readOnly, "is read_only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			defer exp.Shutdown(context.Background())
			err = exp.Start(context.Background(), c.host(t))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestExporter_ItsStateIsPartOfTheStoresHealthUntilShutdown(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.FlushInterval = time.Hour // keep records queued
	host, shared := storeHost(t, cfg, nil)
	exp, _ := startExporter(t, func(c *Config) { *c = *cfg }, host)
	require.NoError(t, exp.ConsumeLogs(context.Background(), numbered("q", 3)))
	assert.Equal(t, 3, shared.Health().QueueDepth, "the exporter's queue shows in the store's health")
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Equal(t, 0, shared.Health().QueueDepth, "a stopped exporter leaves the store's health")
}

type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

func hostWith(exts map[component.ID]component.Component) component.Host {
	return extensionsHost(exts)
}

type notAStore struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestExporter_ASecondExporterOnTheSameDataDirIsRefused(t *testing.T) {
	cfg := testConfig(t)
	first, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	host, _ := storeHost(t, cfg, nil)
	require.NoError(t, first.Start(context.Background(), host))
	second, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = second.Start(context.Background(), host)
	require.ErrorContains(t, err, cfg.DataDir, "second Start: want a refusal naming the data directory")
	require.ErrorContains(t, err, fmt.Sprint(os.Getpid()), "second Start: want a refusal naming the holder's pid")
	_ = second.Shutdown(context.Background())
	require.NoError(t, first.Shutdown(context.Background()))
	// Once the first is gone, the directory can be taken over.
	third, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, third.Start(context.Background(), host), "Start after the first shut down")
	assert.NoError(t, third.Shutdown(context.Background()))
}

// Two pipelines' exporters (each with its own WAL and DLQ) write one store.
func TestExporter_TwoExportersShareOneStore(t *testing.T) {
	first, second := testConfig(t), testConfig(t)
	host, shared := storeHost(t, first, nil)
	expA, _ := startExporter(t, func(c *Config) { *c = *first }, host)
	expB, _ := startExporter(t, func(c *Config) { *c = *second }, host)
	require.NoError(t, expA.ConsumeLogs(context.Background(), numbered("a", 20)))
	require.NoError(t, expB.ConsumeLogs(context.Background(), numbered("b", 30)))
	require.Eventually(t, func() bool { return storedCount(shared.Store()) == 50 }, 20*time.Second, 10*time.Millisecond, "both exporters' records stored")
	require.NoError(t, expA.Shutdown(context.Background()))
	require.NoError(t, expB.Shutdown(context.Background()))
}

package auditexporter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// testConfig is the default config on temp directories with a short flush interval.
func testConfig(t *testing.T) *Config {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.DataDir = dir
	cfg.Store.SQLite.Path = filepath.Join(dir, "audit.db")
	cfg.Batch.FlushInterval = 20 * time.Millisecond
	return cfg
}

// startExporter runs a real exporter on a temp SQLite file and returns it with the file's path.
func startExporter(t *testing.T, edit func(*Config), host component.Host) (exporter.Logs, string) {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(cfg)
	}
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	if err := exp.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp, cfg.Store.SQLite.Path
}

// readAll opens the database the exporter wrote, after the exporter has closed it.
func readAll(t *testing.T, exp exporter.Logs, path string) []record.Record {
	t.Helper()
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := st.Query(context.Background(), store.Filter{}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	// A replay of the same (now id-carrying) logs must not duplicate anything.
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readAll(t, exp, path) {
		if r.ID == "" {
			t.Errorf("record %q has no id", r.Event)
		}
		if prev, dup := got[r.Event]; dup {
			t.Errorf("event %q stored twice (tenants %q, %q)", r.Event, prev, r.TenantID)
		}
		got[r.Event] = r.TenantID
	}
	want := map[string]string{"a.created": "acme", "b.created": "globex", "c.created": record.DefaultTenant}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	for ev, tenant := range want {
		if got[ev] != tenant {
			t.Errorf("%s stored under tenant %q, want %q", ev, got[ev], tenant)
		}
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
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, r := range readAll(t, exp, path) {
		events = append(events, r.Event)
	}
	joined := strings.Join(events, ",")
	if len(events) != 2 || !strings.Contains(joined, "failed") || !strings.Contains(joined, "login.bruteforce") {
		t.Errorf("stored %v, want only failed and login.bruteforce", events)
	}
}

func TestExporter_RefusesAMissingOrWrongQueryExtension(t *testing.T) {
	queryID := component.MustNewID("auditquery")
	for _, c := range []struct {
		name string
		host component.Host
		want string
	}{
		{"the named extension is not configured", hostWith(nil), "is not configured"},
		{"the named extension is not an auditquery extension", hostWith(map[component.ID]component.Component{queryID: notARegistry{}}), "is not an auditquery extension"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Query = &queryID
			exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			err = exp.Start(context.Background(), c.host)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("start error = %v, want %q", err, c.want)
			}
		})
	}
}

type registryProbe struct {
	component.StartFunc
	component.ShutdownFunc
	got          *auditqueryextension.Backend
	unregistered bool
}

func (r *registryProbe) RegisterBackend(b auditqueryextension.Backend) error { r.got = &b; return nil }
func (r *registryProbe) UnregisterBackend()                                  { r.unregistered = true }

func TestExporter_RegistersItsStoreWithTheQueryExtensionAndLeavesOnShutdown(t *testing.T) {
	queryID := component.MustNewID("auditquery")
	probe := &registryProbe{}
	exp, _ := startExporter(t, func(c *Config) { c.Query = &queryID },
		hostWith(map[component.ID]component.Component{queryID: probe}))
	if probe.got == nil || probe.got.Store == nil || probe.got.Health == nil {
		t.Fatalf("registered backend = %+v, want a store and a health source", probe.got)
	}
	if h := probe.got.Health.Health(); h.Status != "ok" {
		t.Errorf("health before any failure = %+v", h)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !probe.unregistered {
		t.Error("shutdown must unregister before the store closes")
	}
}

type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

func hostWith(exts map[component.ID]component.Component) component.Host {
	return extensionsHost(exts)
}

type notARegistry struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestExporter_ASecondExporterOnTheSameDataDirIsRefused(t *testing.T) {
	cfg := testConfig(t)
	first, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	second, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(context.Background(), componenttest.NewNopHost())
	if err == nil || !strings.Contains(err.Error(), cfg.DataDir) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Start = %v; want a refusal naming %s and the holder's pid", err, cfg.DataDir)
	}
	_ = second.Shutdown(context.Background())
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once the first is gone, the directory can be taken over.
	third, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := third.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("Start after the first shut down: %v", err)
	}
	if err := third.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

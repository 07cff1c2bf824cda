package auditexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// auditExporter is the write path: assign ids, map, filter by level, insert per tenant.
// This first version inserts synchronously, so an acknowledged record is already committed to
// the store; the write-ahead log and DLQ take over that guarantee in the durability engine.
type auditExporter struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time

	store    store.Store
	registry auditqueryextension.BackendRegistry

	mu            sync.Mutex // guards the health fields below
	failureCount  int64
	lastFailureAt time.Time
	lastError     string
	failing       bool // the most recent insert failed
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{cfg: cfg, logger: set.Logger, now: time.Now}
}

func (e *auditExporter) start(ctx context.Context, host component.Host) error {
	st, err := sqlitestore.Open(ctx, e.cfg.Store.SQLite)
	if err != nil {
		return fmt.Errorf("auditexporter: open sqlite store %q: %w", e.cfg.Store.SQLite.Path, err)
	}
	e.store = st

	if e.cfg.Query == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*e.cfg.Query]
	if !ok {
		return fmt.Errorf("auditexporter: query: extension %q is not configured in service.extensions", e.cfg.Query)
	}
	reg, ok := ext.(auditqueryextension.BackendRegistry)
	if !ok {
		return fmt.Errorf("auditexporter: query: extension %q is not an auditquery extension", e.cfg.Query)
	}
	if err := reg.RegisterBackend(auditqueryextension.Backend{Store: e.store, Health: e}); err != nil {
		return fmt.Errorf("auditexporter: query: register with %q: %w", e.cfg.Query, err)
	}
	e.registry = reg
	return nil
}

func (e *auditExporter) shutdown(context.Context) error {
	if e.registry != nil {
		e.registry.UnregisterBackend()
		e.registry = nil
	}
	if e.store == nil {
		return nil
	}
	err := e.store.Close()
	e.store = nil
	return err
}

func (e *auditExporter) consumeLogs(ctx context.Context, ld plog.Logs) error {
	if e.store == nil {
		return errNotStarted
	}
	record.EnsureIDs(ld)
	recs := e.cfg.Mapping.FromLogs(ld, authenticatedTenant(ctx), e.now())
	for tenant, batch := range groupByTenant(recs, e.cfg.MinLevel) {
		if err := e.store.Insert(ctx, tenant, batch); err != nil {
			e.noteFailure(err)
			// Not permanent: the store may come back, so the sender should retry.
			return fmt.Errorf("auditexporter: insert %d records for tenant %q: %w", len(batch), tenant, err)
		}
	}
	e.noteSuccess()
	return nil
}

// groupByTenant keeps the records at or above minLevel (security always) and splits them into
// one batch per tenant, because a store transaction holds one tenant's records.
func groupByTenant(recs []record.Record, minLevel record.Level) map[string][]record.Record {
	out := make(map[string][]record.Record, 1)
	for _, r := range recs {
		if r.Level < minLevel && r.Level != record.LevelSecurity {
			continue
		}
		out[r.TenantID] = append(out[r.TenantID], r)
	}
	return out
}

// authenticatedTenant is the tenant an auth extension attached to the request, if any; the
// mapping uses it when a record names no tenant itself.
func authenticatedTenant(ctx context.Context) string {
	info := client.FromContext(ctx)
	if info.Auth == nil {
		return ""
	}
	if v, ok := info.Auth.GetAttribute("tenant").(string); ok {
		return v
	}
	return ""
}

func (e *auditExporter) noteFailure(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failureCount++
	e.lastFailureAt = e.now().UTC()
	e.lastError = err.Error()
	e.failing = true
	e.logger.Warn("audit records not stored", zap.Error(err))
}

func (e *auditExporter) noteSuccess() {
	e.mu.Lock()
	e.failing = false
	e.mu.Unlock()
}

// Health implements health.Source for the query extension.
func (e *auditExporter) Health() health.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := health.Snapshot{Status: "ok", FailureCount: e.failureCount, LastError: e.lastError}
	if !e.lastFailureAt.IsZero() {
		t := e.lastFailureAt
		s.LastFailureAt = &t
	}
	if e.failing {
		s.Status = "degraded"
	}
	return s
}

var errNotStarted = errors.New("auditexporter: not started")

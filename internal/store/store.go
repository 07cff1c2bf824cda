// Package store defines how audit records are kept: the Store contract every backend
// (sqlitestore, clickhousestore) implements, the query filter, and the keyset cursor.
package store

import (
	"context"
	"errors"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Errors a backend returns so callers can tell what went wrong without parsing text.
var (
	// ErrNotFound: no record with that id is visible to the caller.
	ErrNotFound = errors.New("record not found")
	// ErrAmbiguousID: a lookup across tenants (tenant "") found the id in more than one
	// tenant. Identity is (tenant_id, id); the caller must name the tenant.
	ErrAmbiguousID = errors.New("id exists in more than one tenant")
	// ErrInvalidCursor: the cursor was not produced by this store, or was altered.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrInvalidQuery: the filter cannot be run (for example bad search syntax). The API maps
	// it to 400; every other error is the store's fault and maps to 503.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrInvalidRecord: a record can never be stored as it is (no id, a timestamp out of the
	// backend's range). Retrying cannot help; the exporter sets such a batch aside in the DLQ.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrUnavailable: the store cannot answer queries now (its server does not answer, its
	// file cannot be read). HealthChecker reports it.
	ErrUnavailable = errors.New("store unavailable")
	// ErrStorageFull: the store answers queries but cannot take records for lack of space.
	// HealthChecker reports it.
	ErrStorageFull = errors.New("storage full")
)

// HealthChecker is a Store that can tell cheaply what state it is in, for /api/v1/health: a
// store that is registered is not necessarily one that answers.
type HealthChecker interface {
	// CheckHealth returns nil when the store can answer queries and take records; otherwise
	// an error wrapping ErrUnavailable or ErrStorageFull that says why.
	CheckHealth(ctx context.Context) error
}

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects records. Zero fields do not filter. TenantID "" means every tenant: only
// callers with the admin role may query that way, which the query API enforces.
type Filter struct {
	TenantID   string
	Levels     []record.Level // any of these
	MinLevel   record.Level   // at or above this
	Event      string
	UserID     string
	ActorID    string
	EntityID   string
	EntityType string
	CompanyID  string
	EmployeeID string
	TraceID    string
	IP         string
	// Scope is the instrumentation scope: the domain logger (server, db, auth ...).
	Scope       string
	ServiceName string
	// Tags must all be among the record's tags (each an exact element, not a substring).
	Tags  []string
	Start time.Time // inclusive
	End   time.Time // exclusive
	Text  string    // words that must appear in message, event, tags or attributes
}

// Page asks for at most Limit records after Cursor (from a previous Result).
type Page struct {
	Limit  int
	Cursor string
}

// EffectiveLimit is Limit clamped to [1, MaxLimit], with DefaultLimit for zero.
func (p Page) EffectiveLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// Result is one page, newest first. NextCursor is empty on the last page.
type Result struct {
	Records    []record.Record
	NextCursor string
}

// ChainStore is a Store that keeps each tenant's tamper-evident chain (internal/chain): its
// Insert links every record it stores onto the chain in the same transaction, and it keeps
// the signed checkpoints of the chain's head.
type ChainStore interface {
	Store
	chain.Source
	// SaveCheckpoint stores a checkpoint of cp.Tenant's chain.
	SaveCheckpoint(ctx context.Context, cp chain.Checkpoint) error
	// ChainTenants lists the tenants that have a chain.
	ChainTenants(ctx context.Context) ([]string, error)
}

// Store keeps audit records. Implementations are safe for concurrent use.
type Store interface {
	// Migrate brings the schema to the version this binary knows. It refuses a schema newer
	// than that.
	Migrate(ctx context.Context) error
	// Insert writes records of one tenant in one transaction. A record's identity is
	// (tenant_id, id): a record whose id its tenant already stored is ignored, so replays
	// after a crash never duplicate, while the same id in another tenant is another record.
	// It returns how many records it stored: those it ignored as replays are not counted.
	Insert(ctx context.Context, tenant string, records []record.Record) (int, error)
	// Query returns records matching f, newest first (timestamp, then id, descending).
	Query(ctx context.Context, f Filter, p Page) (Result, error)
	// Get returns one record; tenant "" looks across tenants. ErrNotFound if absent,
	// ErrAmbiguousID if tenant is "" and several tenants hold the id.
	Get(ctx context.Context, tenant, id string) (record.Record, error)
	// Trace returns the records of one trace, oldest first.
	Trace(ctx context.Context, tenant, traceID string) ([]record.Record, error)
	// Stats returns the aggregates of q (see Stats). A query Normalize refuses is an error
	// wrapping ErrInvalidQuery.
	Stats(ctx context.Context, q StatsQuery) (Stats, error)
	// Prune deletes the records whose timestamp is before now minus their level's retention
	// period, in short transactions so that inserts are never blocked for long, and reports
	// how many it removed per level. Records are gone from search too. On error, the result
	// still reports what was removed before it.
	Prune(ctx context.Context, policy RetentionPolicy, now time.Time) (PruneResult, error)
	// Close releases the store. Calling it twice is safe.
	Close() error
}

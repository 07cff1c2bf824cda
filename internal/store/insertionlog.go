package store

import (
	"context"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// InsertionLog is a Store that can list the records any writer stored, in the order they were
// written: what a live tail follows when several collectors write one store (a fleet), since
// only the collector that commits a batch hears of it directly.
type InsertionLog interface {
	Store
	// InsertedAfter returns at most limit records written after p, ordered by write time, then
	// tenant, then id (ascending): pass the Position of the last one to read on. Write times
	// come from the writers' clocks when they stamped their batch, before it committed, so a
	// batch that commits late appears behind records already returned: a reader re-reads an
	// overlap window (see the query extension's stream.follow_store).
	InsertedAfter(ctx context.Context, p Position, limit int) ([]Inserted, error)
}

// Inserted is a record and when its writer stamped it.
type Inserted struct {
	Record     record.Record
	InsertedAt time.Time
}

// Position is a place in the insertion order: records written at At with (tenant, id) after
// (Tenant, ID), then every record written later. Position{At: t} starts at t itself.
type Position struct {
	At     time.Time
	Tenant string
	ID     string
}

// PositionOf is the position of in, for reading on after it.
func PositionOf(in Inserted) Position {
	return Position{At: in.InsertedAt, Tenant: in.Record.TenantID, ID: in.Record.ID}
}

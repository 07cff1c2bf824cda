package sqlitestore

import (
	"context"
	"fmt"
	"os"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// OpenReadOnly opens a file another process writes, for queries only: a query node beside the
// collector that owns the file. It never creates, migrates or writes the file; every write
// fails (the connections are query_only). The file must exist and have this binary's schema
// version: an older file is migrated by its writer, a newer one needs a newer reader.
func OpenReadOnly(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if cfg.Path == memoryPath {
		return nil, fmt.Errorf("sqlitestore: path: a read-only store needs a file, not %q", memoryPath)
	}
	if err := refusePartitioned(cfg.Path); err != nil {
		return nil, fmt.Errorf("%w (OpenStoreReadOnly follows partitions)", err)
	}
	return openReadOnlyFile(ctx, cfg)
}

// OpenStoreReadOnly opens a single_database store another process writes, for queries only,
// whatever its layout: the file at cfg.Path and the partitions beside it, which it lists
// again before every read (OpenPartitionedReadOnly), so that it follows the writer's
// rollovers and retention, and a writer that turns partitions on later. partition_max_rows
// is the writer's setting and is not read here.
func OpenStoreReadOnly(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.Tenancy == TenancyDatabasePerTenant {
		return nil, fmt.Errorf("sqlitestore: tenancy: a read-only store reads %s, not %s", TenancySingleDatabase, TenancyDatabasePerTenant)
	}
	return OpenPartitionedReadOnly(ctx, cfg)
}

// openReadOnlyFile opens one file query_only, after checking that it exists and has this
// binary's schema version.
func openReadOnlyFile(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if cfg.Path == memoryPath {
		return nil, fmt.Errorf("sqlitestore: path: a read-only store needs a file, not %q", memoryPath)
	}
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("sqlitestore: read-only store: %w (the writing collector creates it)", err)
	}
	installPageAllocator()
	read, _, err := openPool(ctx, cfg.dsn(true), readConnections())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open readers on %q: %w", cfg.Path, err)
	}
	var version int
	if err := read.QueryRowContext(ctx, selectSchemaVersion).Scan(&version); err != nil {
		_ = read.Close()
		return nil, fmt.Errorf("sqlitestore: read-only store %q: read schema version: %w", cfg.Path, err)
	}
	if want := SchemaVersion(); version != want {
		_ = read.Close()
		return nil, fmt.Errorf("sqlitestore: read-only store %q has schema version %d, this binary reads %d: %s", cfg.Path, version, want,
			map[bool]string{true: "start the collector that writes it with this version first, so it migrates the file", false: "use the version of the collector that writes it"}[version < want])
	}
	// Writes reach the same query_only pool and fail there with SQLite's own error.
	s := &Store{cfg: cfg, write: read, read: read, readOnly: true, pruneChunkRows: defaultPruneChunk, searchFirstBelow: searchFirstBelow, searchWindowRows: firstSearchWindow}
	s.inserts.db = read
	s.counts.db = read
	return s, nil
}

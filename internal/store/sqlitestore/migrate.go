package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrSchemaTooNew is matched (errors.Is) by the error Open and Migrate return when the database
// was migrated by a newer otelcol-audit than this one. Running on would risk writing rows the
// newer schema does not expect, so the store refuses to start.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary supports")

// SchemaTooNewError says which versions were found and supported.
type SchemaTooNewError struct {
	Found, Supported int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this binary supports (%d); upgrade otelcol-audit", e.Found, e.Supported)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// migration is one schema version, applied in one transaction: steps, then backfill (if
// any: data that only Go can compute), then the statements of then.
type migration struct {
	version  int
	steps    []string
	backfill func(ctx context.Context, tx *sql.Tx) error
	then     []string
}

// schemaVersionDDL keeps one row per applied version, so the file itself says when it was
// upgraded; the current version is the largest.
const schemaVersionDDL = `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`

const (
	selectSchemaVersion = `SELECT COALESCE(MAX(version), 0) FROM schema_version`
	insertSchemaVersion = `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`
)

// migrate brings db to the last version of list, one transaction per version, so a failure
// leaves the database at the last version that completed. db must be the writer: its
// transactions begin IMMEDIATE, so two processes migrating the same file take turns and the
// second finds the work done.
func migrate(ctx context.Context, db *sql.DB, list []migration) error {
	latest := len(list)
	for {
		applied, err := migrateOne(ctx, db, list)
		if err != nil {
			return err
		}
		if applied == latest {
			return nil
		}
	}
}

// migrateOne applies the next pending migration, if any, and returns the version the database
// is at afterwards.
func migrateOne(ctx context.Context, db *sql.DB, list []migration) (version int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, schemaVersionDDL); err != nil {
		return 0, fmt.Errorf("sqlitestore: migrate: create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, selectSchemaVersion).Scan(&current); err != nil {
		return 0, fmt.Errorf("sqlitestore: migrate: read schema_version: %w", err)
	}
	latest := len(list)
	switch {
	case current > latest:
		return 0, fmt.Errorf("sqlitestore: %w", &SchemaTooNewError{Found: current, Supported: latest})
	case current == latest:
		return current, tx.Commit()
	}
	next := list[current]
	if next.version != current+1 {
		// A programming error in the list, caught by the tests before any release.
		return 0, fmt.Errorf("sqlitestore: migrate: migration at index %d has version %d, want %d", current, next.version, current+1)
	}
	for i, step := range next.steps {
		if _, err := tx.ExecContext(ctx, step); err != nil {
			return 0, fmt.Errorf("sqlitestore: migrate to version %d: step %d: %w", next.version, i+1, err)
		}
	}
	if next.backfill != nil {
		if err := next.backfill(ctx, tx); err != nil {
			return 0, fmt.Errorf("sqlitestore: migrate to version %d: backfill: %w", next.version, err)
		}
	}
	for i, step := range next.then {
		if _, err := tx.ExecContext(ctx, step); err != nil {
			return 0, fmt.Errorf("sqlitestore: migrate to version %d: step %d after the backfill: %w", next.version, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, insertSchemaVersion, next.version, time.Now().UnixNano()); err != nil {
		return 0, fmt.Errorf("sqlitestore: migrate to version %d: record version: %w", next.version, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlitestore: migrate to version %d: commit: %w", next.version, err)
	}
	return next.version, nil
}

// SchemaVersion is the schema version this binary migrates databases to.
func SchemaVersion() int { return len(migrations) }

// backfillBatch is how many rows backfillSearchText reads and updates at a time: it bounds
// the memory the migration holds, not the transaction, which is the whole migration.
const backfillBatch = 1000

// backfillSearchText fills search_text of the rows stored before version 3 from their
// attributes, with the rule Insert applies (searchText), so that an old row is found by the
// same words as a new one. Numbers are decoded as float64 here, which does not matter:
// searchText leaves numbers out.
func backfillSearchText(ctx context.Context, tx *sql.Tx) error {
	update, err := tx.PrepareContext(ctx, `UPDATE audit_logs SET search_text = ? WHERE seq = ?`)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	defer update.Close()
	type row struct {
		seq  int64
		text string
	}
	var last int64 = -1 << 63
	for {
		rows, err := tx.QueryContext(ctx, `SELECT seq, attributes FROM audit_logs WHERE seq > ? AND attributes <> '{}' ORDER BY seq LIMIT ?`, last, backfillBatch)
		if err != nil {
			return fmt.Errorf("read attributes after seq %d: %w", last, err)
		}
		var batch []row
		for rows.Next() {
			var seq int64
			var attrs string
			if err := rows.Scan(&seq, &attrs); err != nil {
				rows.Close()
				return fmt.Errorf("read attributes after seq %d: %w", last, err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(attrs), &m); err != nil {
				rows.Close()
				return fmt.Errorf("decode attributes of seq %d: %w", seq, err)
			}
			batch = append(batch, row{seq, searchText(m)})
			last = seq
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read attributes after seq %d: %w", last, err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read attributes after seq %d: %w", last, err)
		}
		for _, r := range batch {
			if r.text == "" {
				continue
			}
			if _, err := update.ExecContext(ctx, r.text, r.seq); err != nil {
				return fmt.Errorf("update search_text of seq %d: %w", r.seq, err)
			}
		}
		if len(batch) < backfillBatch {
			return nil
		}
	}
}

// backfillTagSearchText recomputes search_text, with Insert's rule (recordSearchText), for the
// rows stored before version 8 that carry tags, so that a tag finds old rows as well as new.
func backfillTagSearchText(ctx context.Context, tx *sql.Tx) error {
	update, err := tx.PrepareContext(ctx, `UPDATE audit_logs SET search_text = ? WHERE seq = ?`)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	defer update.Close()
	type row struct {
		seq  int64
		text string
	}
	var last int64 = -1 << 63
	for {
		rows, err := tx.QueryContext(ctx, `SELECT seq, tags, attributes FROM audit_logs WHERE seq > ? AND tags <> '[]' ORDER BY seq LIMIT ?`, last, backfillBatch)
		if err != nil {
			return fmt.Errorf("read tags after seq %d: %w", last, err)
		}
		var batch []row
		read := 0
		for rows.Next() {
			read++
			var seq int64
			var tagsJSON, attrsJSON string
			if err := rows.Scan(&seq, &tagsJSON, &attrsJSON); err != nil {
				rows.Close()
				return fmt.Errorf("read tags after seq %d: %w", last, err)
			}
			last = seq
			// A row whose JSON cannot be decoded keeps its search_text: reads report such a
			// row (record.ReadError) rather than fail, and so does this migration.
			var tags []string
			var attrs map[string]any
			if json.Unmarshal([]byte(tagsJSON), &tags) != nil || json.Unmarshal([]byte(attrsJSON), &attrs) != nil {
				continue
			}
			batch = append(batch, row{seq, recordSearchText(tags, attrs)})
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read tags after seq %d: %w", last, err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read tags after seq %d: %w", last, err)
		}
		for _, r := range batch {
			if _, err := update.ExecContext(ctx, r.text, r.seq); err != nil {
				return fmt.Errorf("update search_text of seq %d: %w", r.seq, err)
			}
		}
		if read < backfillBatch {
			return nil
		}
	}
}

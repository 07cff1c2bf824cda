package harness

import (
	"context"
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // the driver the store uses, so the file is read the way it was written
)

// CountRows returns the number of audit records in the SQLite file at path. It opens the file
// read-only and may run while the collector writes (the store uses WAL journaling).
func CountRows(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_logs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit_logs in %s: %w", path, err)
	}
	return n, nil
}

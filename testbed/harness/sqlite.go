package harness

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the driver the store uses, so the file is read the way it was written
)

// CountRows returns the number of audit records in the SQLite store at path: the file itself
// plus, for a partitioned store, every partition file beside it (<stem>-partitions/p*.db; a
// partition still being made ends in .tmp and holds no acknowledged record yet). It opens
// each file read-only and may run while the collector writes (the store uses WAL journaling).
func CountRows(ctx context.Context, path string) (int64, error) {
	files := []string{path}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	parts, err := filepath.Glob(filepath.Join(filepath.Dir(path), stem+"-partitions", "p*.db"))
	if err != nil {
		return 0, err
	}
	files = append(files, parts...)
	var total int64
	for _, f := range files {
		n, err := countFile(ctx, f)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func countFile(ctx context.Context, path string) (int64, error) {
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

//go:build chdb

package clickhousestore

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// chdbClient is the chDB engine's own way to take a file of rows: INSERT ... FROM INFILE, in
// this process, so there is no client to start.
type chdbClient struct{ s *chdbSession }

func (c chdbClient) export(query, format, file string) error {
	c.s.mu.Lock()
	res, err := c.s.conn.Query(query, format)
	c.s.mu.Unlock()
	if err != nil {
		return chdbException(err)
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return chdbException(err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(res.Buf()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c chdbClient) insert(table, columns, format string, files []string) (time.Duration, time.Duration, error) {
	if len(files) != 1 {
		return 0, 0, fmt.Errorf("the chDB session takes one statement at a time: %d concurrent inserts asked", len(files))
	}
	began := time.Now()
	_, err := c.s.exec(fmt.Sprintf("INSERT INTO %s (%s) FROM INFILE %s FORMAT %s", table, columns, quoteString(files[0]), format))
	took := time.Since(began)
	return took, took, err
}

// BenchmarkCHDB_InsertVsNative is insertVsNative on the chDB engine (the modern layout through
// the chdb seam), against the engine's own INSERT ... FROM INFILE of the same rows:
//
//	CHDB_LIB_PATH=.../libchdb.so go test -tags chdb -run '^$' -bench CHDB_InsertVsNative -benchtime 3x ./internal/store/clickhousestore/
func BenchmarkCHDB_InsertVsNative(b *testing.B) {
	sess, err := sharedCHDB()
	if err != nil {
		b.Fatal(err)
	}
	open := func(b *testing.B, chain bool) *Store {
		return openCHDBStore(b, func(c *Config) { c.Chain = chain })
	}
	for _, size := range batchSizes(b) {
		for _, chain := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/chain=%v", size, chain), func(b *testing.B) {
				insertVsNative(b, size, open, chain, chdbClient{s: sess})
			})
		}
	}
}

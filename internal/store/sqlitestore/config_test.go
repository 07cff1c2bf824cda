package sqlitestore

import (
	"context"
	"database/sql"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfig_DefaultsAreValid(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate(), "DefaultConfig().Validate()")
	want := Config{
		Path: "./data/audit.db", Synchronous: "NORMAL", BusyTimeout: 5 * time.Second, CacheSizeKiB: 16 * 1024,
		WriterCacheSizeKiB: 24 * 1024, Chain: true, Tenancy: "single_database", Directory: "./data/tenants", MaxActiveConnections: 50,
		PartitionMaxRows: 50_000, SealedMmapSize: 256 << 20,
	}
	assert.Equal(t, want, cfg, "DefaultConfig()")
}

func TestConfig_ValidateNamesTheOffendingField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"an empty path is refused", func(c *Config) { c.Path = " " }, "path:"},
		{"a path with a question mark is refused", func(c *Config) { c.Path = "/tmp/a?b.db" }, "path:"},
		{"an unknown synchronous mode is refused", func(c *Config) { c.Synchronous = "SOMETIMES" }, "synchronous:"},
		{"a negative busy timeout is refused", func(c *Config) { c.BusyTimeout = -time.Second }, "busy_timeout:"},
		{"a negative cache size is refused", func(c *Config) { c.CacheSizeKiB = -1 }, "cache_size_kib:"},
		{"a negative writer cache size is refused", func(c *Config) { c.WriterCacheSizeKiB = -1 }, "writer_cache_size_kib:"},
		{"a negative mmap size is refused", func(c *Config) { c.MmapSize = -1 }, "mmap_size:"},
		{"a negative sealed mmap size is refused", func(c *Config) { c.SealedMmapSize = -1 }, "sealed_mmap_size:"},
		{"an unknown tenancy is refused", func(c *Config) { c.Tenancy = "per_user" }, "tenancy:"},
		{"database per tenant without a directory is refused", func(c *Config) {
			c.Tenancy, c.Directory = TenancyDatabasePerTenant, ""
		}, "directory:"},
		{"database per tenant in memory is refused", func(c *Config) {
			c.Tenancy, c.Directory = TenancyDatabasePerTenant, ":memory:"
		}, "directory:"},
		{"database per tenant with no open file allowed is refused", func(c *Config) {
			c.Tenancy, c.MaxActiveConnections = TenancyDatabasePerTenant, 0
		}, "max_active_connections:"},
		{"negative partition rows are refused", func(c *Config) { c.PartitionMaxRows = -1 }, "partition_max_rows:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			assert.ErrorContains(t, cfg.Validate(), tc.field, "Validate(), want an error naming %q", tc.field)
		})
	}
	t.Run("every invalid field is reported at once", func(t *testing.T) {
		cfg := Config{Path: "", Synchronous: "x", BusyTimeout: -1, CacheSizeKiB: -1, MmapSize: -1}
		err := cfg.Validate()
		for _, field := range []string{"path:", "synchronous:", "busy_timeout:", "cache_size_kib:", "mmap_size:"} {
			assert.ErrorContains(t, err, field, "Validate(), want it to name %q", field)
		}
	})
	t.Run("synchronous is case-insensitive", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Synchronous = "full"
		assert.NoError(t, cfg.Validate(), "Validate()")
	})
}

func TestOpen_RefusesAnInvalidConfigBeforeTouchingTheDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	cfg.Synchronous = "bogus"
	_, err := Open(context.Background(), cfg)
	require.ErrorContains(t, err, "synchronous:", "Open, want the synchronous error")
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, fs.ErrNotExist, "Open created %s for an invalid config", dir)
}

func TestOpen_FailsClearlyWhenTheDirectoryCannotBeCreated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(file, "audit.db") // a directory inside a regular file
	_, err := Open(context.Background(), cfg)
	require.ErrorContains(t, err, "create directory of path", "Open, want a directory error")
}

// pragmas reads the settings the DSN must have applied to one connection.
func pragmas(t *testing.T, c *sql.Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"journal_mode", "synchronous", "busy_timeout", "foreign_keys", "query_only", "cache_size", "mmap_size", "wal_autocheckpoint", "journal_size_limit"} {
		var v string
		require.NoErrorf(t, c.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v), "PRAGMA %s", name)
		out[name] = v
	}
	return out
}

func TestOpen_AppliesThePragmasToEveryConnection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	cfg.Synchronous = "FULL"
	cfg.BusyTimeout = 1500 * time.Millisecond
	cfg.CacheSizeKiB = 4096
	cfg.WriterCacheSizeKiB = 8192
	cfg.MmapSize = 1 << 20
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err, "Open")
	defer s.Close()

	common := map[string]string{
		"journal_mode": "wal", "synchronous": "2", "busy_timeout": "1500",
		"foreign_keys": "0", "mmap_size": "1048576",
		"wal_autocheckpoint": "16384", "journal_size_limit": "67108864",
	}
	check := func(role string, c *sql.Conn, queryOnly, cacheSize string) {
		got := pragmas(t, c)
		for k, want := range common {
			assert.Equal(t, want, got[k], "%s: PRAGMA %s", role, k)
		}
		assert.Equal(t, queryOnly, got["query_only"], "%s: PRAGMA query_only", role)
		assert.Equal(t, cacheSize, got["cache_size"], "%s: PRAGMA cache_size", role)
	}

	w, err := s.write.Conn(context.Background())
	require.NoError(t, err)
	check("writer", w, "0", "-8192") // the writer's own cache size
	_ = w.Close()

	// Hold every reader at once so that each one of the pool is a distinct connection.
	n := readConnections()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		conns[i], err = s.read.Conn(context.Background())
		require.NoError(t, err, "reader %d", i)
	}
	for i, c := range conns {
		check("reader "+string(rune('0'+i)), c, "1", "-4096")
		_, err := c.ExecContext(context.Background(), "DELETE FROM audit_logs")
		assert.Error(t, err, "reader %d could write", i)
		_ = c.Close()
	}
}

func TestStore_CloseIsSafeFromManyGoroutines(t *testing.T) {
	s := openTemp(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Close(), "Close")
		}()
	}
	wg.Wait()
}

func TestConfig_TheWriterUsesTheReadersCacheSizeWhenItsOwnIsUnset(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Path = "audit.db"
	cfg.CacheSizeKiB, cfg.WriterCacheSizeKiB = 4096, 0
	assert.Contains(t, cfg.dsn(false), url.QueryEscape("cache_size(-4096)"), "writer DSN")
	cfg.WriterCacheSizeKiB = 65536
	assert.Contains(t, cfg.dsn(false), url.QueryEscape("cache_size(-65536)"), "writer DSN")
	assert.Contains(t, cfg.dsn(true), url.QueryEscape("cache_size(-4096)"), "reader DSN")
}

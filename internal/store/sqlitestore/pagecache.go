package sqlitestore

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache takes one allocation per cached page: the 4 KiB page and a header of a
// few hundred bytes. The pure-Go SQLite's allocator (modernc.org/memory) rounds every
// allocation of up to 16 KiB up to a power of two, so each cached page costs 8 KiB and a
// writer's full 32 MiB cache holds 64 MiB of RSS. SQLite can instead carve page slots of the
// exact size out of one buffer handed to it before it starts (SQLITE_CONFIG_PAGECACHE):
// the pool below, sized to the writer's cache, halves what that cache costs. Pages beyond the
// pool (readers' caches, a second store's writer) fall back to the allocator as before.
//
// The pool is process-wide and is installed once, before the first connection: SQLite
// refuses the setting after it has started. The buffer is resident from then on (SQLite
// threads a free list through every slot), so an idle collector holds it too; see README.md.

// pageCachePool is the one pool installed in this process, or why none was.
var pageCachePool struct {
	mu    sync.Mutex
	tried bool
	slots int   // slots installed; 0 when none
	err   error // why none was installed
}

// pageSize is the database page size the pool's slots hold: SQLite's default, which this
// store does not change.
const pageSize = 4096

// installPageCachePool gives SQLite a pool of page slots worth cacheKiB of pages, once per
// process; later calls do nothing. It must run before any SQLite connection of this process
// is opened: Open calls it first. A failure leaves SQLite allocating pages one by one, as
// without a pool, and is kept for PageCachePool to report.
func installPageCachePool(cacheKiB int) {
	pageCachePool.mu.Lock()
	defer pageCachePool.mu.Unlock()
	if !pageCachePool.tried {
		pageCachePool.tried = true
		pageCachePool.slots, pageCachePool.err = configurePageCache(cacheKiB * 1024 / pageSize)
	}
}

// configurePageCache hands SQLite a buffer of n page slots.
func configurePageCache(n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.Xmalloc(tls, 3*8)
	if args == 0 {
		return 0, fmt.Errorf("page cache pool: out of memory for the call's arguments")
	}
	defer libc.Xfree(tls, args)

	// The slot holds the page and the header SQLite keeps beside it, whose size only SQLite
	// knows.
	var header int32
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ,
		libc.VaList(args, uintptr(unsafe.Pointer(&header)))); rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("page cache pool: SQLITE_CONFIG_PCACHE_HDRSZ returned %d", rc)
	}
	slot := (pageSize + int(header) + 7) &^ 7
	buf := libc.Xmalloc(tls, libc.Tsize_t(slot*n))
	if buf == 0 {
		return 0, fmt.Errorf("page cache pool: out of memory for %d slots of %d bytes", n, slot)
	}
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE,
		libc.VaList(args, buf, int32(slot), int32(n))); rc != sqlite3.SQLITE_OK {
		// SQLITE_MISUSE: a connection was opened before this call, so SQLite has started.
		libc.Xfree(tls, buf)
		return 0, fmt.Errorf("page cache pool: SQLITE_CONFIG_PAGECACHE returned %d "+
			"(a SQLite connection was opened before the store's first)", rc)
	}
	return n, nil
}

// PageCachePool reports how many page slots SQLite's shared pool has (0 before the first
// Open, or when none could be installed) and the error that prevented one.
func PageCachePool() (slots int, err error) {
	pageCachePool.mu.Lock()
	defer pageCachePool.mu.Unlock()
	return pageCachePool.slots, pageCachePool.err
}

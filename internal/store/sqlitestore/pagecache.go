package sqlitestore

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache takes one allocation per cached page: the 4 KiB page and a 272-byte
// header. The pure-Go SQLite's allocator (modernc.org/memory) rounds every allocation of up to
// 16 KiB up to a power of two, so each cached page took 8 KiB and a writer's full 32 MiB cache
// held 64 MiB of RSS. SQLite lets a program supply its allocator (SQLITE_CONFIG_MALLOC): the
// one below serves requests of a cached page's size from slabs of slots of exactly that size,
// and everything else from the pure-Go allocator, as SQLite's default allocator does.
//
// Why not SQLite's own page-cache buffer (SQLITE_CONFIG_PAGECACHE): it is resident from the
// start whatever the load, and once its slots run short every connection's cache stops
// growing, so the readers beside a busy writer would be left with a handful of pages.
//
// Each allocation carries an 8-byte header before the address SQLite gets, as with SQLite's
// default allocator: the size, for an allocation of the pure-Go allocator, or the slab's
// address with slabTag set, for a slot. SQLite needs 8-byte alignment, which both keep.

// slabTag marks a header that holds a slab's address: user-space addresses never set it, and
// sizes are below 2^31.
const slabTag = uint64(1) << 63

// slabSlots is how many slots a slab holds: about 512 KiB, one mapping.
const slabSlots = 120

// headerBytes is the header before every allocation.
const headerBytes = 8

// pageSize is the database page size: SQLite's default, which this store does not change.
// Slots hold a page of this size and its header.
const pageSize = 4096

// slabAllocator is SQLite's allocator in this process, once installed.
type slabAllocator struct {
	mu        sync.Mutex
	installed bool
	err       error // why it could not be installed

	smallest int // smallest request a slot serves: one byte more than a page
	payload  int // largest request a slot serves: a page and SQLite's header for it
	slot     int // bytes of one slot: headerBytes and payload

	slabs   map[uintptr]*slab // by address
	partial []*slab           // slabs with a free slot
	// spare is one empty slab kept for the next, so that a cache hovering at a slab's
	// boundary does not allocate and free it again and again.
	spare *slab
}

// slab is one mapping of slabSlots slots. Free slots form a list through their first word;
// slots never handed out are taken in order (next), so a slab is touched only as it fills.
type slab struct {
	addr   uintptr
	free   uintptr // payload address of the first free slot, 0 when none
	next   int     // slots handed out at least once
	used   int
	listed bool // in partial
}

var pageAlloc slabAllocator

// installPageAllocator makes SQLite allocate through pageAlloc. It must run before SQLite
// starts (the first connection in this process): Open calls it first. Later calls do nothing.
// A failure leaves SQLite's default allocator in place (pages cost twice as much memory, as
// before) and is kept for pageAllocatorInstalled.
func installPageAllocator() {
	a := &pageAlloc
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.installed || a.err != nil {
		return
	}
	if a.err = a.configure(); a.err == nil {
		a.installed = true
	}
}

// pageAllocatorInstalled reports whether SQLite allocates through the page-sized slabs, and
// if not, the error that prevented it (nil before the first Open).
func pageAllocatorInstalled() (installed bool, err error) {
	pageAlloc.mu.Lock()
	defer pageAlloc.mu.Unlock()
	return pageAlloc.installed, pageAlloc.err
}

// configure hands SQLite the allocator's functions. a.mu is held.
func (a *slabAllocator) configure() error {
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.Xmalloc(tls, headerBytes)
	if args == 0 {
		return fmt.Errorf("sqlite allocator: out of memory for the call's arguments")
	}
	defer libc.Xfree(tls, args)

	// A slot holds a page and the header SQLite keeps beside it, whose size only SQLite knows.
	var pageHeader int32
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ,
		libc.VaList(args, uintptr(unsafe.Pointer(&pageHeader)))); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite allocator: SQLITE_CONFIG_PCACHE_HDRSZ returned %d", rc)
	}
	a.smallest = pageSize + 1
	a.payload = (pageSize + int(pageHeader) + 7) &^ 7
	a.slot = headerBytes + a.payload
	a.slabs = map[uintptr]*slab{}

	// SQLite copies the structure; it must stay outside Go's heap while it does.
	methods := libc.Xcalloc(tls, 1, types.Size_t(unsafe.Sizeof(sqlite3.Tsqlite3_mem_methods{})))
	if methods == 0 {
		return fmt.Errorf("sqlite allocator: out of memory for the methods")
	}
	defer libc.Xfree(tls, methods)
	m := (*sqlite3.Tsqlite3_mem_methods)(at(methods))
	m.FxMalloc = cFunc(sqliteMalloc)
	m.FxFree = cFunc(sqliteFree)
	m.FxRealloc = cFunc(sqliteRealloc)
	m.FxSize = cFunc(sqliteSize)
	m.FxRoundup = cFunc(sqliteRoundup)
	m.FxInit = cFunc(sqliteInit)
	m.FxShutdown = cFunc(sqliteShutdown)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_MALLOC, libc.VaList(args, methods)); rc != sqlite3.SQLITE_OK {
		// SQLITE_MISUSE: a connection was opened before, so SQLite has started.
		return fmt.Errorf("sqlite allocator: SQLITE_CONFIG_MALLOC returned %d "+
			"(a SQLite connection was opened before the store's first)", rc)
	}
	return nil
}

// cFunc is the C function pointer of a Go function, as the pure-Go SQLite calls them: the
// function value's word (https://golang.org/s/go11func). Only for top-level functions.
func cFunc[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// at is the memory at address p, outside Go's heap: SQLite's or the pure-Go allocator's. (The
// indirection says so to go vet, which cannot know that such an address is not a Go pointer
// kept as an integer.)
func at(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// header is the word before an allocation.
func header(p uintptr) *uint64 { return (*uint64)(at(p - headerBytes)) }

func sqliteMalloc(tls *libc.TLS, n int32) uintptr {
	if int(n) >= pageAlloc.smallest && int(n) <= pageAlloc.payload {
		return pageAlloc.take(tls)
	}
	p := libc.Xmalloc(tls, types.Size_t(n)+headerBytes)
	if p == 0 {
		return 0
	}
	*(*uint64)(at(p)) = uint64(n)
	return p + headerBytes
}

func sqliteFree(tls *libc.TLS, p uintptr) {
	if p == 0 {
		return
	}
	if h := *header(p); h&slabTag != 0 {
		pageAlloc.give(tls, uintptr(h&^slabTag), p)
		return
	}
	libc.Xfree(tls, p-headerBytes)
}

func sqliteRealloc(tls *libc.TLS, p uintptr, n int32) uintptr {
	h := *header(p)
	if h&slabTag == 0 {
		q := libc.Xrealloc(tls, p-headerBytes, types.Size_t(n)+headerBytes)
		if q == 0 {
			return 0
		}
		*(*uint64)(at(q)) = uint64(n)
		return q + headerBytes
	}
	if int(n) <= pageAlloc.payload {
		return p
	}
	q := sqliteMalloc(tls, n)
	if q == 0 {
		return 0
	}
	copy(unsafe.Slice((*byte)(at(q)), pageAlloc.payload), unsafe.Slice((*byte)(at(p)), pageAlloc.payload))
	pageAlloc.give(tls, uintptr(h&^slabTag), p)
	return q
}

func sqliteSize(_ *libc.TLS, p uintptr) int32 {
	if p == 0 {
		return 0
	}
	if h := *header(p); h&slabTag == 0 {
		return int32(h)
	}
	return int32(pageAlloc.payload)
}

func sqliteRoundup(_ *libc.TLS, n int32) int32 { return (n + 7) &^ 7 }

func sqliteInit(*libc.TLS, uintptr) int32 { return sqlite3.SQLITE_OK }

func sqliteShutdown(*libc.TLS, uintptr) {}

// take hands out a free slot, mapping a slab when none has one.
func (a *slabAllocator) take(tls *libc.TLS) uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s *slab
	switch {
	case len(a.partial) > 0:
		s = a.partial[len(a.partial)-1]
	case a.spare != nil:
		s, a.spare = a.spare, nil
		a.list(s)
	default:
		addr := libc.Xmalloc(tls, types.Size_t(a.slot*slabSlots))
		if addr == 0 {
			return 0
		}
		s = &slab{addr: addr}
		a.slabs[addr] = s
		a.list(s)
	}
	var p uintptr
	if s.free != 0 {
		p = s.free
		s.free = *(*uintptr)(at(p))
	} else {
		p = s.addr + uintptr(s.next*a.slot) + headerBytes
		s.next++
		*header(p) = uint64(s.addr) | slabTag
	}
	s.used++
	if s.used == slabSlots {
		a.unlist(s)
	}
	return p
}

// give takes back the slot p of the slab at addr. A slab left empty is kept as the spare, or
// given back to the pure-Go allocator when there is one already.
func (a *slabAllocator) give(tls *libc.TLS, addr, p uintptr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.slabs[addr]
	*(*uintptr)(at(p)) = s.free
	s.free = p
	s.used--
	if !s.listed {
		a.list(s)
	}
	if s.used > 0 {
		return
	}
	a.unlist(s)
	if a.spare == nil {
		a.spare = s
		return
	}
	delete(a.slabs, addr)
	libc.Xfree(tls, addr)
}

func (a *slabAllocator) list(s *slab) {
	s.listed = true
	a.partial = append(a.partial, s)
}

func (a *slabAllocator) unlist(s *slab) {
	s.listed = false
	for i, t := range a.partial {
		if t == s {
			a.partial = append(a.partial[:i], a.partial[i+1:]...)
			return
		}
	}
}

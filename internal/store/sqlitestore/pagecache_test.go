package sqlitestore

import (
	"testing"
	"unsafe"

	"modernc.org/libc"
)

// A slab hands out each slot once until it is given back, slots do not overlap, and of the
// slabs that empty, one is kept for the next allocation and the others are given back.
func TestSlabAllocator_ReusesSlotsAndGivesBackAllButOneEmptySlab(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()
	payload := pageSize + 272
	a := &slabAllocator{smallest: pageSize + 1, payload: payload, slot: headerBytes + payload, slabs: map[uintptr]*slab{}}
	fill := func(p uintptr, b byte) []byte {
		mem := unsafe.Slice((*byte)(at(p)), payload)
		for i := range mem {
			mem[i] = b
		}
		return mem
	}

	slots := make([]uintptr, 2*slabSlots+1)
	seen := map[uintptr]bool{}
	for i := range slots {
		p := a.take(tls)
		if p == 0 || p%8 != 0 || seen[p] {
			t.Fatalf("slot %d: %#x (zero, unaligned or handed out twice)", i, p)
		}
		seen[p] = true
		fill(p, byte(i))
		slots[i] = p
	}
	if len(a.slabs) != 3 {
		t.Fatalf("%d slots are in %d slabs, want 3", len(slots), len(a.slabs))
	}
	for i, p := range slots {
		for _, b := range unsafe.Slice((*byte)(at(p)), payload) {
			if b != byte(i) {
				t.Fatalf("slot %d was overwritten by another: holds %d", i, b)
			}
		}
	}

	// A slot given back is the next one handed out.
	a.give(tls, uintptr(*header(slots[5])&^slabTag), slots[5])
	if p := a.take(tls); p != slots[5] {
		t.Fatalf("took %#x after giving back %#x", p, slots[5])
	}

	for _, p := range slots {
		a.give(tls, uintptr(*header(p)&^slabTag), p)
	}
	if len(a.slabs) != 1 || a.spare == nil || len(a.partial) != 0 {
		t.Fatalf("all slots given back: %d slabs mapped, spare %v, %d listed; want 1 spare and none listed",
			len(a.slabs), a.spare != nil, len(a.partial))
	}
	if p := a.take(tls); p == 0 || len(a.slabs) != 1 {
		t.Fatalf("the next slot comes from the spare: %#x, %d slabs mapped", p, len(a.slabs))
	}
}

// SQLite's calls through the installed allocator: a page-sized request gets a slot, others
// the pure-Go allocator, each reports its size, and a reallocation keeps the content whether
// it stays in its slot, leaves it or grows an ordinary allocation.
func TestPageAllocator_ServesSQLitesCalls(t *testing.T) {
	installPageAllocator()
	if installed, err := pageAllocatorInstalled(); !installed {
		t.Fatalf("not installed: %v", err)
	}
	tls := libc.NewTLS()
	defer tls.Close()
	write := func(p uintptr, n int) {
		for i, b := 0, unsafe.Slice((*byte)(at(p)), n); i < n; i++ {
			b[i] = byte(i * 7)
		}
	}
	check := func(what string, p uintptr, n int) {
		t.Helper()
		for i, b := range unsafe.Slice((*byte)(at(p)), n) {
			if b != byte(i*7) {
				t.Fatalf("%s: byte %d is %d, want %d", what, i, b, byte(i*7))
			}
		}
	}

	page := sqliteMalloc(tls, pageSize+200)
	if *header(page)&slabTag == 0 || sqliteSize(tls, page) != int32(pageAlloc.payload) {
		t.Fatalf("a page-sized request: header %#x, size %d; want a slot of %d", *header(page), sqliteSize(tls, page), pageAlloc.payload)
	}
	small := sqliteMalloc(tls, 100)
	if *header(small)&slabTag != 0 || sqliteSize(tls, small) != 100 {
		t.Fatalf("a small request: header %#x, size %d", *header(small), sqliteSize(tls, small))
	}
	write(page, pageSize+200)
	if p := sqliteRealloc(tls, page, pageSize+250); p != page {
		t.Fatalf("a reallocation within the slot moved it")
	}
	grown := sqliteRealloc(tls, page, 3*pageSize)
	if *header(grown)&slabTag != 0 || sqliteSize(tls, grown) != 3*pageSize {
		t.Fatalf("a reallocation beyond the slot: header %#x, size %d", *header(grown), sqliteSize(tls, grown))
	}
	check("grown out of the slot", grown, pageSize+200)
	write(small, 100)
	small = sqliteRealloc(tls, small, 20000)
	check("grown", small, 100)
	sqliteFree(tls, grown)
	sqliteFree(tls, small)
	sqliteFree(tls, 0)
	if got := sqliteRoundup(tls, 4097); got != 4104 {
		t.Fatalf("roundup(4097) = %d, want 4104", got)
	}
}

package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"modernc.org/libc"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// pageCacheChildEnv makes the test binary a child of TestPageAllocator_...: "slabs" or "none".
const pageCacheChildEnv = "SQLITESTORE_PAGECACHE_CHILD"

// SQLite's allocator is process-wide and installed by the first Open, so each side of the
// comparison runs in a process of its own: this test binary again, running TestPageCacheChild.
func TestPageAllocator_AFullWriterCacheCostsItsSizeNotTwice(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the process's resident memory from /proc")
	}
	if os.Getenv(pageCacheChildEnv) != "" {
		t.Skip("running as a child")
	}
	grown := map[string]int{}
	for _, mode := range []string{"none", "slabs"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestPageCacheChild$", "-test.v")
		cmd.Env = append(os.Environ(), pageCacheChildEnv+"="+mode, "TMPDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %s: %v\n%s", mode, err, out)
		}
		_, after, ok := strings.Cut(string(out), "grown_kib=")
		if !ok {
			t.Fatalf("child %s printed no grown_kib:\n%s", mode, out)
		}
		kib, err := strconv.Atoi(strings.Fields(after)[0])
		if err != nil {
			t.Fatalf("child %s: %v", mode, err)
		}
		grown[mode] = kib
	}
	t.Logf("resident memory grown while filling a %d KiB writer cache: %d KiB with SQLite's default allocator, %d KiB with the slabs",
		pageCacheTestKiB, grown["none"], grown["slabs"])
	// With SQLite's default allocator each 4 KiB page and its header take an 8 KiB slot of the
	// pure-Go allocator: about twice the cache. With the slabs, the cache's size and the headers. Whatever else the process grew by (the
	// race detector's memory, Go's heap) is on both sides, so the difference is the saving.
	if grown["none"] < pageCacheTestKiB {
		t.Fatalf("with the default allocator the process grew by %d KiB, less than the %d KiB cache: the cache did not fill",
			grown["none"], pageCacheTestKiB)
	}
	if saved := grown["none"] - grown["slabs"]; saved < pageCacheTestKiB/2 {
		t.Fatalf("the slabs saved %d KiB of a %d KiB cache; pages in their own 8 KiB slots would cost about the cache's size again",
			saved, pageCacheTestKiB)
	}
}

// pageCacheTestKiB is the child's writer cache: large enough that Go's heap moving by a MiB
// or two does not decide the comparison, small enough to fill in seconds under -race.
const pageCacheTestKiB = 8 << 10

// TestPageCacheChild fills a writer cache of pageCacheTestKiB and prints how much the
// process's anonymous resident memory grew meanwhile, with the slab allocator or SQLite's
// default one. It runs only as the child of the test above.
func TestPageCacheChild(t *testing.T) {
	mode := os.Getenv(pageCacheChildEnv)
	if mode == "" {
		t.Skip("runs as the child of TestPageAllocator_AFullWriterCacheCostsItsSizeNotTwice")
	}
	if mode == "none" {
		pageAlloc.err = errors.New("left out for the comparison") // as before: pages allocated one by one
	}
	before := residentAnonKiB(t)
	ctx := context.Background()
	st, err := Open(ctx, Config{
		Path: filepath.Join(t.TempDir(), "audit.db"), Synchronous: "OFF", BusyTimeout: time.Second,
		WriterCacheSizeKiB: pageCacheTestKiB,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The file must outgrow the cache twice over, so that every slot is used.
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	for pages := 0; pages*pageSize/1024 < 2*pageCacheTestKiB; {
		if _, err := st.Insert(ctx, "t1", gen.Batch(500, "t1")); err != nil {
			t.Fatal(err)
		}
		if err := st.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			t.Fatal(err)
		}
	}
	if installed, err := PageAllocator(); mode == "slabs" && !installed {
		t.Fatalf("the slab allocator was not installed: %v", err)
	}
	debug.FreeOSMemory() // what Go's heap holds is not the subject
	fmt.Printf("grown_kib=%d\n", residentAnonKiB(t)-before)
}

// residentAnonKiB is RssAnon from /proc/self/status.
func residentAnonKiB(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssAnon in /proc/self/status")
	return 0
}

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
	if installed, err := PageAllocator(); !installed {
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

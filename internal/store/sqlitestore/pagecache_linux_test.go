//go:build linux

package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// pageCacheChildEnv makes the test binary a child of
// TestPageAllocator_AFullWriterCacheCostsItsSizeNotTwice, with "slabs" or "none".
const pageCacheChildEnv = "SQLITESTORE_PAGECACHE_CHILD"

// pageCacheTestKiB is the child's writer cache: large enough that Go's heap moving by a MiB
// or two does not decide the comparison, small enough to fill in seconds under -race.
const pageCacheTestKiB = 8 << 10

// TestMain runs the child of the comparison below instead of the tests when
// pageCacheChildEnv says so.
func TestMain(m *testing.M) {
	if mode := os.Getenv(pageCacheChildEnv); mode != "" {
		kib, err := fillWriterCache(mode)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("grown_kib=%d\n", kib)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// SQLite's allocator is process-wide and installed by the first Open, so each side of the
// comparison runs in a process of its own: this test binary again (TestMain, fillWriterCache).
// Linux only, as it reads the process's resident memory from /proc.
func TestPageAllocator_AFullWriterCacheCostsItsSizeNotTwice(t *testing.T) {
	grown := map[string]int{}
	for _, mode := range []string{"none", "slabs"} {
		cmd := exec.Command(os.Args[0])
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
	// pure-Go allocator: about twice the cache. With the slabs, the cache's size and the
	// headers. Whatever else the process grew by (the race detector's memory, Go's heap) is on
	// both sides, so the difference is the saving.
	if grown["none"] < pageCacheTestKiB {
		t.Fatalf("with the default allocator the process grew by %d KiB, less than the %d KiB cache: the cache did not fill",
			grown["none"], pageCacheTestKiB)
	}
	if saved := grown["none"] - grown["slabs"]; saved < pageCacheTestKiB/2 {
		t.Fatalf("the slabs saved %d KiB of a %d KiB cache; pages in their own 8 KiB slots would cost about the cache's size again",
			saved, pageCacheTestKiB)
	}
}

// fillWriterCache fills a writer cache of pageCacheTestKiB and returns how much the process's
// anonymous resident memory grew meanwhile, in KiB, with the slab allocator ("slabs") or
// SQLite's default one ("none").
func fillWriterCache(mode string) (int, error) {
	if mode == "none" {
		pageAlloc.err = errors.New("left out for the comparison") // as before: pages allocated one by one
	}
	dir, err := os.MkdirTemp("", "pagecache")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	before, err := residentAnonKiB()
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	st, err := Open(ctx, Config{
		Path: filepath.Join(dir, "audit.db"), Synchronous: "OFF", BusyTimeout: time.Second,
		WriterCacheSizeKiB: pageCacheTestKiB,
	})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	// The file must outgrow the cache twice over, so that every slot is used.
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	for pages := 0; pages*pageSize/1024 < 2*pageCacheTestKiB; {
		if _, err := st.Insert(ctx, "t1", gen.Batch(500, "t1")); err != nil {
			return 0, err
		}
		if err := st.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			return 0, err
		}
	}
	if installed, err := pageAllocatorInstalled(); mode == "slabs" && !installed {
		return 0, fmt.Errorf("the slab allocator was not installed: %v", err)
	}
	debug.FreeOSMemory() // what Go's heap holds is not the subject
	after, err := residentAnonKiB()
	return after - before, err
}

// residentAnonKiB is RssAnon from /proc/self/status.
func residentAnonKiB() (int, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no RssAnon in /proc/self/status")
}

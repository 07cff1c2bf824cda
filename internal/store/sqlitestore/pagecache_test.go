package sqlitestore

import (
	"context"
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

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// pageCacheChildEnv makes the test binary a child of TestPageCachePool_...: "pool" or "none".
const pageCacheChildEnv = "SQLITESTORE_PAGECACHE_CHILD"

// The pool is process-wide and installed by the first Open, so each side of the comparison
// runs in a process of its own: this test binary again, running pageCacheChild.
func TestPageCachePool_AFullWriterCacheCostsItsSizeNotTwice(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the process's resident memory from /proc")
	}
	if os.Getenv(pageCacheChildEnv) != "" {
		t.Skip("running as a child")
	}
	grown := map[string]int{}
	for _, mode := range []string{"none", "pool"} {
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
	t.Logf("resident memory grown while filling a %d KiB writer cache: %d KiB without the pool, %d KiB with it",
		pageCacheTestKiB, grown["none"], grown["pool"])
	// Without the pool each 4 KiB page and its header take an 8 KiB slot: about twice the
	// cache. With it, the cache's size and the headers. Whatever else the process grew by (the
	// race detector's memory, Go's heap) is on both sides, so the difference is the saving.
	if grown["none"] < pageCacheTestKiB {
		t.Fatalf("without the pool the process grew by %d KiB, less than the %d KiB cache: the cache did not fill",
			grown["none"], pageCacheTestKiB)
	}
	if saved := grown["none"] - grown["pool"]; saved < pageCacheTestKiB/2 {
		t.Fatalf("the pool saved %d KiB of a %d KiB cache; pages in their own 8 KiB slots would cost about the cache's size again",
			saved, pageCacheTestKiB)
	}
}

// pageCacheTestKiB is the child's writer cache: large enough that Go's heap moving by a MiB
// or two does not decide the comparison, small enough to fill in seconds under -race.
const pageCacheTestKiB = 8 << 10

// TestPageCacheChild fills a writer cache of pageCacheTestKiB and prints how much the
// process's anonymous resident memory grew meanwhile, with SQLite's page-cache pool or
// without it. It runs only as the child of the test above.
func TestPageCacheChild(t *testing.T) {
	mode := os.Getenv(pageCacheChildEnv)
	if mode == "" {
		t.Skip("runs as the child of TestPageCachePool_AFullWriterCacheCostsItsSizeNotTwice")
	}
	if mode == "none" {
		pageCachePool.tried = true // as before the pool existed: pages allocated one by one
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
	if slots, err := PageCachePool(); mode == "pool" && (slots == 0 || err != nil) {
		t.Fatalf("no pool was installed: %d slots, %v", slots, err)
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

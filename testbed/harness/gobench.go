package harness

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
)

// BenchResult is one line of `go test -bench` output.
type BenchResult struct {
	// Name is the benchmark's name without the trailing -GOMAXPROCS, e.g.
	// "BenchmarkAppend/sync=always/appenders=8".
	Name       string
	Iterations int64
	// Metrics maps a unit ("ns/op", "records/s", "ack-p99-ms") to its value.
	Metrics map[string]float64
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// ParseGoBench returns the benchmark result lines of `go test -bench` output in order; other
// lines (PASS, ok, goos, logs) are skipped.
func ParseGoBench(out string) []BenchResult {
	var results []BenchResult
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := BenchResult{Name: procsSuffix.ReplaceAllString(f[0], ""), Iterations: iters, Metrics: map[string]float64{}}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			r.Metrics[f[i+1]] = v
		}
		if ok {
			results = append(results, r)
		}
	}
	return results
}

// FindBench returns the result named name, if present.
func FindBench(results []BenchResult, name string) (BenchResult, bool) {
	for _, r := range results {
		if r.Name == name {
			return r, true
		}
	}
	return BenchResult{}, false
}

package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is 100 on every
// Linux architecture Go supports (the kernel fixes it for the user ABI), and Go has no sysconf.
const clockTicks = 100

// ProcStats is what the kernel accounts for one process.
type ProcStats struct {
	// CPU is user + system time since the process started.
	CPU time.Duration
	// PeakRSS is VmHWM, the largest resident set so far, in bytes.
	PeakRSS int64
}

// ReadProc reads /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcStats, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStats{}, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	cpu, err := parseStatCPU(string(stat))
	if err != nil {
		return ProcStats{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStats{}, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	hwm, err := parseStatusKB(string(status), "VmHWM")
	if err != nil {
		return ProcStats{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return ProcStats{CPU: cpu, PeakRSS: hwm * 1024}, nil
}

// parseStatCPU returns utime + stime. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted after the last ')': there, field
// 3 (state) is index 0, utime (14) index 11 and stime (15) index 12.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' closing the command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime/stime %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStatusKB returns the value of a "Key:   123 kB" line.
func parseStatusKB(status, key string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: %q is not \"<n> kB\"", key, rest)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}

// Package dirlock gives one process at a time a directory: the collector's data_dir holds a
// write-ahead log and a dead-letter queue that two writers would corrupt, and an SQLite file
// whose single-writer design assumes one collector.
//
// The lock is flock(2) on a LOCK file in the directory, which also names the holder's pid for
// the message a second process gets. The kernel releases it when the holder's process ends,
// however it ends, so a SIGKILL never leaves a stale lock behind; the file itself stays.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FileName is the lock file in the locked directory.
const FileName = "LOCK"

// ErrHeld is matched (errors.Is) by the error Acquire returns when another process holds the
// directory.
var ErrHeld = errors.New("directory is locked by another process")

// Lock is a held directory lock.
type Lock struct {
	f *os.File
}

// Acquire locks dir (creating it if needed) for this process, or fails at once, naming the
// directory and the holder's pid, when another process holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by process %s (its %s file); every collector needs its own data_dir",
				ErrHeld, dir, holder, FileName)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Only the holder writes the pid, so a reader never sees a loser's pid.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

func readPID(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	if pid := strings.TrimSpace(string(buf[:n])); pid != "" {
		return pid
	}
	return "(unknown pid)"
}

// Release unlocks the directory. Safe on nil and twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing the descriptor releases the flock; the file stays for the next holder.
	return f.Close()
}

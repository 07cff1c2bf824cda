package wal

import (
	"os"
)

// segmentFile is the part of *os.File the writer uses. It exists so tests can inject
// write and sync failures (a full disk) without a special filesystem.
type segmentFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

func openOSFile(path string, flag int, perm os.FileMode) (segmentFile, error) {
	return os.OpenFile(path, flag, perm)
}

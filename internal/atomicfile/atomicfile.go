// Package atomicfile writes files so that a crash leaves either the old content or the new,
// never a mix, and so that what was written survives a power loss: the data is fsynced before
// the rename that publishes it, and the directory after. The WAL's low-water mark, DLQ batches
// and chain checkpoint files are written this way.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Replace makes path hold data: written to path+".tmp" (truncated first, so a stale one from a
// crash is simply overwritten), fsynced, renamed over path, and the directory fsynced.
func Replace(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if err := writeAndSync(f, data); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// WriteTemp writes data to a new file in dir named by pattern (os.CreateTemp's, mode 0600) and
// fsyncs it; the caller renames it into place and then calls SyncDir. It returns the name.
func WriteTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	name := f.Name()
	if err := writeAndSync(f, data); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("write %s: %w", filepath.Base(name), err)
	}
	return name, nil
}

// writeAndSync writes data, fsyncs and closes f.
func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir makes the creations, renames and removals in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

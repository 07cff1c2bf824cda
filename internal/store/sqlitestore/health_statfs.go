//go:build linux || darwin

package sqlitestore

import "syscall"

// statfs is a variable so that a test can count the calls a health check makes.
var statfs = syscall.Statfs

// freeBytes is the space an unprivileged writer may still use on dir's filesystem.
func freeBytes(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := statfs(dir, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true //nolint:gosec // block counts and sizes are never negative
}

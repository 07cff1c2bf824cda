//go:build !linux && !darwin

package sqlitestore

// freeBytes is not measured on this platform; CheckHealth then relies on SQLITE_FULL alone.
func freeBytes(string) (uint64, bool) { return 0, false }

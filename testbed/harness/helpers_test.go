package harness

import "os"

// mkdirTemp holds the binaries shared by every test of the process; the OS cleans it.
func mkdirTemp() (string, error) { return os.MkdirTemp("", "testbed-bin-") }

package dlq

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// State is where a batch file is in its life; it is the file name's extension.
type State string

// The states of a batch file. See README.md for the transitions.
const (
	// StateBatch: waiting for the retry engine.
	StateBatch State = "batch"
	// StateProcessing: the retry engine is inserting it right now. Found at Open, it means the
	// previous process stopped mid-insert; it goes back to StateBatch.
	StateProcessing State = "processing"
	// StateDead: poison; never retried until an operator requeues it.
	StateDead State = "dead"
	// StateCorrupt: unreadable (torn, altered, unknown format); kept for a human, never retried.
	StateCorrupt State = "corrupt"
)

// tmpExt marks a file being written. It never holds acknowledged data: the data it holds
// only counts once renamed, so leftovers are removed at Open.
const tmpExt = ".tmp"

// maxTenantInName bounds the escaped tenant in a file name so that names stay far below the
// usual 255-byte limit. The header keeps the full tenant.
const maxTenantInName = 96

// escapeTenant makes tenant safe as a part of a file name. Every byte other than an ASCII
// letter, a digit or '-' becomes '%' and two upper-case hex digits (so '/', '\\', '.', '_',
// '%', NUL and every non-ASCII byte are escaped). The result therefore holds only
// [A-Za-z0-9%-]: no path separator, no dot (so no "..", no hidden file, no extension), and no
// '_' (the field separator of the name). A result longer than maxTenantInName is cut at an
// escape boundary and ends with '~' to show it was cut. The mapping is one-way on purpose:
// the file name only informs a human; the tenant a batch belongs to is read from the header.
func escapeTenant(tenant string) string {
	var b strings.Builder
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		var part string
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			part = string(c)
		} else {
			part = fmt.Sprintf("%%%02X", c)
		}
		if b.Len()+len(part) > maxTenantInName {
			b.WriteByte('~')
			break
		}
		b.WriteString(part)
	}
	return b.String()
}

// batchID is a file name without its state extension: {escaped tenant}_{unix_ms}_{random}.
func batchID(tenant string, unixMS int64, random string) string {
	return escapeTenant(tenant) + "_" + strconv.FormatInt(unixMS, 10) + "_" + random
}

// fileName is the name of batch id in state s.
func fileName(id string, s State) string { return id + "." + string(s) }

// splitName returns the id and state of a file name. ok is false for files that are not
// batch files in a known state (temp files, an operator's notes, directories).
func splitName(name string) (id string, s State, ok bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 {
		return "", "", false
	}
	s = State(name[dot+1:])
	switch s {
	case StateBatch, StateProcessing, StateDead, StateCorrupt:
		return name[:dot], s, true
	}
	return "", "", false
}

// idTime returns the unix milliseconds in id, which orders batches oldest first. ok is false
// for a name this package did not produce (an operator may drop a file in by hand).
func idTime(id string) (int64, bool) {
	parts := strings.Split(id, "_")
	if len(parts) < 3 {
		return 0, false
	}
	ms, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	return ms, err == nil
}

// checkName refuses operator input that is not a plain file name in the DLQ directory, so a
// typo or a hostile argument cannot reach a file elsewhere.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || filepath.Base(name) != name {
		return fmt.Errorf("%w: %q is not a batch file name", ErrNotFound, name)
	}
	return nil
}

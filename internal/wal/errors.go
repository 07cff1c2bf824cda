package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrNotReplayed is returned by Append before Replay has completed: appending first
	// would hand out positions below entries that were never replayed.
	ErrNotReplayed = errors.New("wal: Append called before Replay completed")
	// ErrEntryTooLarge is returned by Append for a payload whose framed entry does not fit
	// in one segment (entries never span segments).
	ErrEntryTooLarge = errors.New("wal: entry larger than a segment")
	// ErrUnknownPosition is returned by Done and Read for a position that is not an outstanding
	// entry of this WAL: never appended or replayed, or already marked done.
	ErrUnknownPosition = errors.New("wal: position is not an outstanding entry")
)

// Corruption describes a byte range of a segment that Replay could not read as entries
// and skipped. It is an error value so that callers may log or return it as one.
type Corruption struct {
	Segment int
	Offset  int64 // first unreadable byte
	Length  int64 // bytes skipped, up to the next intact entry or the end of the segment
	Reason  string
}

func (c *Corruption) Error() string {
	return fmt.Sprintf("wal: corruption in segment %s at offset %d: %d bytes skipped: %s",
		segmentName(c.Segment), c.Offset, c.Length, c.Reason)
}

package wal

import (
	"cmp"
	"fmt"
)

// Position identifies an entry: the segment it lives in and the byte offset of its header
// in that segment file. Positions handed out by one WAL directory only grow, so they order
// entries; Position is comparable and usable as a map key.
type Position struct {
	Segment int
	Offset  int64
}

// Compare returns -1, 0 or +1 as p is before, equal to, or after q.
func (p Position) Compare(q Position) int {
	if c := cmp.Compare(p.Segment, q.Segment); c != 0 {
		return c
	}
	return cmp.Compare(p.Offset, q.Offset)
}

// String renders p as "<segment file>:<offset>", the form used in logs and errors.
func (p Position) String() string {
	return fmt.Sprintf("%s:%d", segmentName(p.Segment), p.Offset)
}

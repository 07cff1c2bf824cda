package record

import (
	"fmt"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/plog"
)

// NewID returns a UUIDv7: time-ordered, so ids sort roughly by arrival and index well.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source fails; no audit record can be
		// identified safely then.
		panic(fmt.Sprintf("record: generate UUIDv7: %v", err))
	}
	return id.String()
}

// EnsureIDs gives every log record without an audit.id attribute a fresh one, in place, and
// returns how many it assigned. It runs once, before a record is first written anywhere, so
// that every later replay of the same bytes carries the same id and stores can ignore repeats.
func EnsureIDs(ld plog.Logs) int {
	assigned := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				attrs := lrs.At(k).Attributes()
				if v, ok := attrs.Get(AttrID); ok && v.AsString() != "" {
					continue
				}
				attrs.PutStr(AttrID, NewID())
				assigned++
			}
		}
	}
	return assigned
}

package record

import "unsafe"

// Rough per-object heap overheads used by ApproxBytes: a map entry's key and value headers
// plus its share of buckets, and an interface value's boxed word.
const (
	mapBaseBytes  = 48
	mapEntryBytes = 64
	boxedBytes    = 16
)

// ApproxBytes estimates the heap the records hold: the structs, their strings and their
// attribute trees. It is what a queue that bounds memory in bytes counts; exactness matters
// less than growing with what the records really carry (a record with 50 long attributes
// weighs many times one with 12 short ones).
func ApproxBytes(recs []Record) int {
	n := 0
	for i := range recs {
		n += recs[i].approxBytes()
	}
	return n
}

func (r *Record) approxBytes() int {
	n := int(unsafe.Sizeof(*r))
	for _, s := range [...]string{r.ID, r.SeverityText, r.Event, r.Message, r.TenantID, r.UserID, r.Username,
		r.CompanyID, r.EmployeeID, r.ActorID, r.EntityID, r.EntityType, r.IPAddress, r.UserAgent,
		r.GeoCountry, r.GeoCity, r.Method, r.Path, r.TraceID, r.SpanID, r.ServiceName, r.Scope} {
		n += len(s)
	}
	for _, t := range r.Tags {
		n += 16 + len(t)
	}
	return n + anyBytes(r.Attributes) + anyBytes(r.Resource)
}

func anyBytes(v any) int {
	switch v := v.(type) {
	case string:
		return boxedBytes + len(v)
	case map[string]any:
		n := mapBaseBytes
		for k, e := range v {
			n += mapEntryBytes + len(k) + anyBytes(e)
		}
		return n
	case []any:
		n := 24 + 16*len(v)
		for _, e := range v {
			n += anyBytes(e)
		}
		return n
	case []byte:
		return 24 + len(v)
	default:
		return boxedBytes
	}
}

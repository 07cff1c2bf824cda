package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
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

// EnsureIDs gives every log record without an audit.id attribute its content id (ContentID),
// or a UUIDv7 when it has neither a timestamp nor an observed timestamp, in place, and returns
// how many it assigned. It runs once, before a record is first written
// anywhere, so that every later replay of the same bytes carries the same id and stores can
// ignore repeats; and because the id follows from the content, a client that resends a
// request whose answer it lost (OTLP exporters retry on timeouts) sends the same ids again.
func EnsureIDs(ld plog.Logs) int {
	assigned := 0
	var enc contentEncoder
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			prefix := -1 // the resource and scope are encoded once per scope, when needed
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				attrs := lr.Attributes()
				if v, ok := attrs.Get(AttrID); ok && v.AsString() != "" {
					continue
				}
				if lr.Timestamp() == 0 && lr.ObservedTimestamp() == 0 {
					// Without any time, equal content says nothing about being the same event
					// (two identical records of one request would merge): such a record gets a
					// random time-ordered id, and a resend of it is stored again.
					attrs.PutStr(AttrID, NewID())
					assigned++
					continue
				}
				if prefix < 0 {
					enc.reset()
					enc.container(rl.Resource().Attributes(), sl.Scope())
					prefix = enc.n
				}
				enc.n = prefix
				attrs.PutStr(AttrID, enc.id(lr, true))
				assigned++
			}
		}
	}
	return assigned
}

// ContentID is the id EnsureIDs gives lr (of the given resource and scope). withObserved
// false leaves the observed timestamp out, for producers that stamp arrival time there (the
// audit receiver): a resent event must not become a new record because it arrived later.
//
// The id is 16 bytes in the UUID text form, laid out as UUIDv7 but with version 8 (RFC 9562's
// custom version): the first 48 bits are the record's time in Unix milliseconds (its
// Timestamp, else its ObservedTimestamp), so ids of records written now sort after older ones
// and the id index grows at its end; the other 74 bits are the leading bits of a SHA-256 of an
// unambiguous encoding of everything the record says: resource attributes, scope name and
// version, timestamps, severity, event name, body, attributes (audit.id excepted), trace and
// span ids and flags. Records that differ in anything get different ids; two records equal in
// all of it, nanosecond timestamps included, are one event.
func ContentID(res pcommon.Map, scope pcommon.InstrumentationScope, lr plog.LogRecord, withObserved bool) string {
	var enc contentEncoder
	enc.container(res, scope)
	return enc.id(lr, withObserved)
}

// contentEncoder builds the bytes a content id hashes. Every variable-length item is
// length-prefixed and every value carries its type, so no two different records encode alike.
//
// The bytes go into buf[:n] and only n changes as they do: storing the slice itself back after
// every append is a pointer write, which the garbage collector's write barrier intercepts
// while a cycle runs (most of the time under load), and those barriers were a quarter of this
// encoder's cost in the collector's profile.
type contentEncoder struct {
	buf   []byte // storage: len(buf) == cap(buf)
	n     int    // bytes used
	stack []pendingValue
}

type pendingValue struct {
	key   string
	isKey bool
	val   pcommon.Value
}

func (e *contentEncoder) reset() { e.n = 0 }

// room makes room for k more bytes.
func (e *contentEncoder) room(k int) {
	if e.n+k > len(e.buf) {
		grown := make([]byte, max(2*len(e.buf), e.n+k, 4096))
		copy(grown, e.buf[:e.n])
		e.buf = grown
	}
}

func (e *contentEncoder) byte1(b byte) {
	e.room(1)
	e.buf[e.n] = b
	e.n++
}

func (e *contentEncoder) bytes(b []byte) {
	e.room(len(b))
	e.n += copy(e.buf[e.n:], b)
}

func (e *contentEncoder) container(res pcommon.Map, scope pcommon.InstrumentationScope) {
	e.mapValue(res, "")
	e.str(scope.Name())
	e.str(scope.Version())
}

func (e *contentEncoder) id(lr plog.LogRecord, withObserved bool) string {
	e.u64(uint64(lr.Timestamp()))
	if withObserved {
		e.u64(uint64(lr.ObservedTimestamp()))
	} else {
		e.u64(0)
	}
	e.u64(uint64(lr.SeverityNumber()))
	e.str(lr.SeverityText())
	e.str(lr.EventName())
	e.value(lr.Body())
	e.mapValue(lr.Attributes(), AttrID)
	tid, sid := lr.TraceID(), lr.SpanID()
	e.bytes(tid[:])
	e.bytes(sid[:])
	e.u64(uint64(lr.Flags()))
	sum := sha256.Sum256(e.buf[:e.n])

	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	ms := uint64(ts) / 1e6
	if ms > 1<<48-1 {
		ms = 1<<48 - 1
	}
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], ms<<16)
	copy(id[6:], sum[:10])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(id)
}

func formatUUID(id [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], id[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], id[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], id[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], id[8:10])
	out[23] = '-'
	hex.Encode(out[24:], id[10:])
	return string(out[:])
}

func (e *contentEncoder) u64(v uint64) {
	e.room(8)
	binary.BigEndian.PutUint64(e.buf[e.n:], v)
	e.n += 8
}

func (e *contentEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.room(len(s))
	e.n += copy(e.buf[e.n:], s)
}

// Type tags of encoded values.
const (
	tagEmpty byte = iota
	tagStr
	tagInt
	tagDouble
	tagBool
	tagBytes
	tagMap
	tagSlice
)

// mapValue encodes m without the key skip ("" skips nothing).
func (e *contentEncoder) mapValue(m pcommon.Map, skip string) {
	n := m.Len()
	if skip != "" {
		if _, ok := m.Get(skip); ok {
			n--
		}
	}
	e.byte1(tagMap)
	e.u64(uint64(n))
	m.Range(func(k string, v pcommon.Value) bool {
		if skip == "" || k != skip {
			e.str(k)
			e.value(v)
		}
		return true
	})
}

// value encodes v. Scalars, nearly every value of an audit record, are encoded directly;
// maps and slices with an explicit stack, not recursion: it runs before intake limits are
// checked, and a value nested a million levels deep must not exhaust the goroutine's stack.
func (e *contentEncoder) value(v pcommon.Value) {
	if e.scalar(v) {
		return
	}
	e.stack = append(e.stack[:0], pendingValue{val: v})
	for len(e.stack) > 0 {
		p := e.stack[len(e.stack)-1]
		e.stack = e.stack[:len(e.stack)-1]
		if p.isKey {
			e.str(p.key)
			continue
		}
		if e.scalar(p.val) {
			continue
		}
		switch v := p.val; v.Type() {
		case pcommon.ValueTypeMap:
			m := v.Map()
			e.byte1(tagMap)
			e.u64(uint64(m.Len()))
			// Pushed in reverse so that entries come off the stack in map order, key first.
			start := len(e.stack)
			m.Range(func(k string, v pcommon.Value) bool {
				e.stack = append(e.stack, pendingValue{val: v}, pendingValue{key: k, isKey: true})
				return true
			})
			reverse(e.stack[start:])
		case pcommon.ValueTypeSlice:
			s := v.Slice()
			e.byte1(tagSlice)
			e.u64(uint64(s.Len()))
			for i := s.Len() - 1; i >= 0; i-- {
				e.stack = append(e.stack, pendingValue{val: s.At(i)})
			}
		}
	}
}

// scalar encodes v and reports true unless it is a map or a slice, which it leaves to value.
func (e *contentEncoder) scalar(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		e.byte1(tagStr)
		e.str(v.Str())
	case pcommon.ValueTypeInt:
		e.byte1(tagInt)
		e.u64(uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		e.byte1(tagDouble)
		e.u64(math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		e.byte1(tagBool)
		if v.Bool() {
			e.byte1(1)
		} else {
			e.byte1(0)
		}
	case pcommon.ValueTypeBytes:
		e.byte1(tagBytes)
		e.str(string(v.Bytes().AsRaw()))
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return false
	default:
		e.byte1(tagEmpty)
	}
	return true
}

// reverse reverses the (value, key) pairs pushed for a map so that the first entry's key is on
// top: pairs keep their inner order (value below key).
func reverse(pairs []pendingValue) {
	for i, j := 0, len(pairs)-2; i < j; i, j = i+2, j-2 {
		pairs[i], pairs[j] = pairs[j], pairs[i]
		pairs[i+1], pairs[j+1] = pairs[j+1], pairs[i+1]
	}
}

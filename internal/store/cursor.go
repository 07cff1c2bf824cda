package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Cursor is the position after the last record of a page: its timestamp (Unix nanoseconds) and
// id. Because (timestamp, id) is unique and the order is strict, a keyset page that starts
// strictly after it never repeats or skips a record, whatever is inserted meanwhile.
type Cursor struct {
	TimestampNanos int64
	ID             string
}

const cursorVersion = "v1"

// Encode makes the opaque string the API hands to clients.
func (c Cursor) Encode() string {
	raw := cursorVersion + ":" + strconv.FormatInt(c.TimestampNanos, 10) + ":" + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a string made by Encode. An empty string is the zero Cursor (first page).
func DecodeCursor(s string) (Cursor, bool, error) {
	if s == "" {
		return Cursor{}, false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false, fmt.Errorf("%w: not base64url", ErrInvalidCursor)
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return Cursor{}, false, fmt.Errorf("%w: unknown format", ErrInvalidCursor)
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Cursor{}, false, fmt.Errorf("%w: bad timestamp", ErrInvalidCursor)
	}
	return Cursor{TimestampNanos: ts, ID: parts[2]}, true, nil
}

package auditexporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// WAL entries hold mapped records, not the OTLP payload: mapping depends on the request (the
// authenticated tenant, the arrival time of records without timestamps), and a replay must
// reproduce exactly what was acknowledged.
const walFormatJSON byte = 1

func encodeEntry(recs []record.Record) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(walFormatJSON)
	if err := json.NewEncoder(&buf).Encode(recs); err != nil {
		return nil, fmt.Errorf("encode %d records: %w", len(recs), err)
	}
	return buf.Bytes(), nil
}

func decodeEntry(b []byte) ([]record.Record, error) {
	if len(b) == 0 {
		return nil, errors.New("decode entry: empty")
	}
	if b[0] != walFormatJSON {
		return nil, fmt.Errorf("decode entry: unknown format %d", b[0])
	}
	// Numbers stay exact: an int64 attribute must not come back as a rounded float64.
	recs, err := record.DecodeRecords(b[1:])
	if err != nil {
		return nil, fmt.Errorf("decode entry: %w", err)
	}
	return recs, nil
}

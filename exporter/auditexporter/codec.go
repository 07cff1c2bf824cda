package auditexporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// WAL entry formats. The first byte of a payload says which.
const (
	// walFormatJSON entries hold mapped records as a JSON array. Written by earlier versions;
	// still read, so that a WAL left by one is replayed after an upgrade.
	walFormatJSON byte = 1
	// walFormatOTLP entries hold the request as OTLP protobuf, with ids already assigned, and
	// the two things its mapping depends on besides the configuration: the tenant the
	// request's authentication carried and the arrival time (given to records without
	// timestamps). Encoding it costs a fraction of encoding mapped records as JSON, and the
	// records are mapped again when the entry is read back, so an entry waiting on disk costs
	// no memory:
	//
	//	0      format (2)
	//	1..    uvarint length of the authenticated tenant, then its bytes
	//	..     varint arrival time, Unix nanoseconds
	//	..     the request, plog protobuf (ExportLogsServiceRequest)
	walFormatOTLP byte = 2
)

// walRequest is what a walFormatOTLP entry holds.
type walRequest struct {
	logs    plog.Logs
	tenant  string // the authenticated client's tenant, "" if none
	arrived time.Time
}

// encodeEntry is the walFormatOTLP entry of req.
func encodeEntry(req walRequest) ([]byte, error) {
	header, body, err := encodeEntryParts(req)
	if err != nil {
		return nil, err
	}
	return append(header, body...), nil
}

// encodeEntryParts is encodeEntry in two parts, the header and the marshalled request, for
// wal.AppendParts: the request is the bulk of an entry, and joining the two here would copy it
// once more (and make as much garbage again) before the WAL copies it into its write buffer.
func encodeEntryParts(req walRequest) (header, body []byte, err error) {
	var m plog.ProtoMarshaler
	body, err = m.MarshalLogs(req.logs)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %d records: %w", req.logs.LogRecordCount(), err)
	}
	header = make([]byte, 0, 1+2*binary.MaxVarintLen64+len(req.tenant))
	header = append(header, walFormatOTLP)
	header = binary.AppendUvarint(header, uint64(len(req.tenant)))
	header = append(header, req.tenant...)
	header = binary.AppendVarint(header, req.arrived.UnixNano())
	return header, body, nil
}

// decodeEntry returns the records an entry holds: mapped with mapping and kept at or above
// minLevel for an OTLP entry (as intake did when it was appended), as written for a JSON one.
func decodeEntry(b []byte, mapping record.Mapping, minLevel record.Level) ([]record.Record, error) {
	if len(b) == 0 {
		return nil, errors.New("decode entry: empty")
	}
	switch b[0] {
	case walFormatJSON:
		// Numbers stay exact: an int64 attribute must not come back as a rounded float64.
		recs, err := record.DecodeRecords(b[1:])
		if err != nil {
			return nil, fmt.Errorf("decode entry: %w", err)
		}
		return recs, nil
	case walFormatOTLP:
		req, err := decodeRequest(b[1:])
		if err != nil {
			return nil, fmt.Errorf("decode entry: %w", err)
		}
		return keepAtOrAbove(mapping.FromLogs(req.logs, req.tenant, req.arrived), minLevel), nil
	default:
		return nil, fmt.Errorf("decode entry: unknown format %d", b[0])
	}
}

func decodeRequest(b []byte) (walRequest, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return walRequest{}, errors.New("tenant: bad length")
	}
	tenant := string(b[k : k+int(n)])
	b = b[k+int(n):]
	at, k := binary.Varint(b)
	if k <= 0 {
		return walRequest{}, errors.New("arrival time: bad varint")
	}
	var u plog.ProtoUnmarshaler
	ld, err := u.UnmarshalLogs(b[k:])
	if err != nil {
		return walRequest{}, fmt.Errorf("request: %w", err)
	}
	return walRequest{logs: ld, tenant: tenant, arrived: time.Unix(0, at).UTC()}, nil
}

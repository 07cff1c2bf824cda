// Package record defines the audit record: the one shape every store keeps and every API returns,
// and its mapping from OpenTelemetry log records.
package record

import (
	"time"
)

// DefaultTenant is the tenant of records that carry no tenant at all.
const DefaultTenant = "default"

// Record is one audit event. JSON names are the API's field names (snake_case).
type Record struct {
	ID                string         `json:"id"`
	Timestamp         time.Time      `json:"timestamp"`
	ObservedTimestamp time.Time      `json:"observed_timestamp"`
	Level             Level          `json:"level"`
	SeverityText      string         `json:"severity_text"`
	SeverityNumber    int32          `json:"severity_number"`
	Event             string         `json:"event"`
	Message           string         `json:"message"`
	TenantID          string         `json:"tenant_id"`
	UserID            string         `json:"user_id"`
	Username          string         `json:"username"`
	CompanyID         string         `json:"company_id"`
	EmployeeID        string         `json:"employee_id"`
	ActorID           string         `json:"actor_id"`
	EntityID          string         `json:"entity_id"`
	EntityType        string         `json:"entity_type"`
	IPAddress         string         `json:"ip_address"`
	UserAgent         string         `json:"user_agent"`
	GeoCountry        string         `json:"geo_country"`
	GeoCity           string         `json:"geo_city"`
	Method            string         `json:"method"`
	Path              string         `json:"path"`
	StatusCode        int            `json:"status_code"`
	DurationMS        float64        `json:"duration_ms"`
	TraceID           string         `json:"trace_id"`
	SpanID            string         `json:"span_id"`
	ServiceName       string         `json:"service_name"`
	Scope             string         `json:"scope"`
	Tags              []string       `json:"tags"`
	Attributes        map[string]any `json:"attributes"`
	// Resource is shared by the records mapped from one resource (Mapping.FromLogs): read
	// it, never write to it.
	Resource map[string]any `json:"resource"`
	// ReadError is set by a store when part of the stored row could not be decoded (for
	// example JSON nested beyond the decoder's limit, written before intake limits existed):
	// the record is returned with what could be read, the unreadable part empty, and this
	// says which part and why, so that one bad row never fails a whole page.
	ReadError string `json:"read_error,omitempty"`
}

// FlagUnreadable notes on r that its part (tags, attributes, resource) could not be decoded.
func (r *Record) FlagUnreadable(part string, err error) {
	msg := part + ": " + err.Error()
	if r.ReadError != "" {
		msg = r.ReadError + "; " + msg
	}
	r.ReadError = msg
}

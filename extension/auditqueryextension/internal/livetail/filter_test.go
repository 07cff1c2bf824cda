package livetail

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestMatcher(t *testing.T) {
	rec := record.Record{
		TenantID: "acme", Level: record.LevelWarn, Event: "Doc.Update", Message: "Changed the Title",
		UserID: "alice", ActorID: "alice", EntityID: "doc-1", TraceID: "0af7651916cd43dd8448eb211c80319c", IPAddress: "10.0.0.1",
		EntityType: "document", CompanyID: "c-7", EmployeeID: "e-42", Scope: "db", ServiceName: "docs",
		Tags: []string{"pci", "quarterly-close"},
	}
	tests := []struct {
		name   string
		filter store.Filter
		want   bool
	}{
		{"an empty filter matches everything", store.Filter{}, true},
		{"the same tenant matches", store.Filter{TenantID: "acme"}, true},
		{"another tenant never matches", store.Filter{TenantID: "globex"}, false},
		{"a level set containing the level matches", store.Filter{Levels: []record.Level{record.LevelInfo, record.LevelWarn}}, true},
		{"a level set without the level does not match", store.Filter{Levels: []record.Level{record.LevelError}}, false},
		{"min_level at the level matches", store.Filter{MinLevel: record.LevelWarn}, true},
		{"min_level above the level does not match", store.Filter{MinLevel: record.LevelError}, false},
		{"event matches exactly", store.Filter{Event: "Doc.Update"}, true},
		{"event is case-sensitive like the store's", store.Filter{Event: "doc.update"}, false},
		{"user_id matches", store.Filter{UserID: "alice"}, true},
		{"another user_id does not", store.Filter{UserID: "bob"}, false},
		{"actor, entity and ip match together", store.Filter{ActorID: "alice", EntityID: "doc-1", IP: "10.0.0.1"}, true},
		{"trace_id matches in upper case too", store.Filter{TraceID: "0AF7651916CD43DD8448EB211C80319C"}, true},
		{"q is a case-insensitive substring of the message", store.Filter{Text: "the tit"}, true},
		{"q also searches the event", store.Filter{Text: "doc.up"}, true},
		{"q not in message or event does not match", store.Filter{Text: "password"}, false},
		{"entity_type, company, employee, scope and service match together",
			store.Filter{EntityType: "document", CompanyID: "c-7", EmployeeID: "e-42", Scope: "db", ServiceName: "docs"}, true},
		{"another entity_type does not match", store.Filter{EntityType: "invoice"}, false},
		{"another company does not match", store.Filter{CompanyID: "c-8"}, false},
		{"another employee does not match", store.Filter{EmployeeID: "e-4"}, false},
		{"another scope does not match", store.Filter{Scope: "auth"}, false},
		{"another service does not match", store.Filter{ServiceName: "doc"}, false},
		{"a tag the record holds matches", store.Filter{Tags: []string{"pci"}}, true},
		{"every tag must be held", store.Filter{Tags: []string{"pci", "quarterly-close"}}, true},
		{"a missing tag among several does not match", store.Filter{Tags: []string{"pci", "gdpr"}}, false},
		{"a tag is an exact element, not a substring", store.Filter{Tags: []string{"quarterly"}}, false},
		{"q also searches the tags", store.Filter{Text: "Quarterly"}, true},
		{"all fields combine with AND", store.Filter{TenantID: "acme", UserID: "bob", Text: "title"}, false},
		{"start and end are ignored: a live record is always now", store.Filter{Start: fixedPast, End: fixedPast}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, NewMatcher(tt.filter).Match(&rec))
		})
	}
}

var fixedPast = mustTime("2020-01-01T00:00:00Z")

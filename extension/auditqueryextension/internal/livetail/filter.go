package livetail

import (
	"slices"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Matcher selects the records a subscriber receives. It is the store's Filter evaluated in
// memory, with two differences a live stream implies: there is no time range (a live record is
// always "now"), and Text is a case-insensitive substring of the message or the event rather
// than the store's full-text syntax, because a word index is not available per record. Text
// also looks in the tags, as the store's search does.
type Matcher struct {
	tenant   string
	levels   []record.Level
	minLevel record.Level
	event    string
	userID   string
	actorID  string
	entityID string
	traceID  string
	ip       string
	text     string // lower case

	entityType, companyID, employeeID, scope, serviceName string
	tags                                                  []string
}

// NewMatcher compiles f. f.Start and f.End are ignored.
func NewMatcher(f store.Filter) Matcher {
	return Matcher{
		tenant:   f.TenantID,
		levels:   slices.Clone(f.Levels),
		minLevel: f.MinLevel,
		event:    f.Event,
		userID:   f.UserID,
		actorID:  f.ActorID,
		entityID: f.EntityID,
		traceID:  strings.ToLower(f.TraceID),
		ip:       f.IP,
		text:     strings.ToLower(f.Text),

		entityType:  f.EntityType,
		companyID:   f.CompanyID,
		employeeID:  f.EmployeeID,
		scope:       f.Scope,
		serviceName: f.ServiceName,
		tags:        slices.Clone(f.Tags),
	}
}

// Match reports whether r passes every set field of the filter.
func (m Matcher) Match(r *record.Record) bool {
	switch {
	case m.tenant != "" && r.TenantID != m.tenant,
		len(m.levels) > 0 && !slices.Contains(m.levels, r.Level),
		m.minLevel != 0 && r.Level < m.minLevel,
		m.event != "" && r.Event != m.event,
		m.userID != "" && r.UserID != m.userID,
		m.actorID != "" && r.ActorID != m.actorID,
		m.entityID != "" && r.EntityID != m.entityID,
		m.traceID != "" && r.TraceID != m.traceID,
		m.ip != "" && r.IPAddress != m.ip,
		m.entityType != "" && r.EntityType != m.entityType,
		m.companyID != "" && r.CompanyID != m.companyID,
		m.employeeID != "" && r.EmployeeID != m.employeeID,
		m.scope != "" && r.Scope != m.scope,
		m.serviceName != "" && r.ServiceName != m.serviceName:
		return false
	}
	for _, tag := range m.tags {
		if !slices.Contains(r.Tags, tag) {
			return false
		}
	}
	if m.text != "" {
		return containsFold(r.Message, m.text) || containsFold(r.Event, m.text) ||
			slices.ContainsFunc(r.Tags, func(tag string) bool { return containsFold(tag, m.text) })
	}
	return true
}

// containsFold reports whether s contains lowerSub, ignoring case. lowerSub is already lower
// case, so only s is folded.
func containsFold(s, lowerSub string) bool {
	return strings.Contains(strings.ToLower(s), lowerSub)
}

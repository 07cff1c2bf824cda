// Package loadshape is the vocabulary of the benchmark's audit records: the tenants,
// services, events, user agents and filler attribute values that the testbed's load generator
// (testbed/loadgen, OTLP requests) and the stores' insert benchmarks (storetest.LoadgenLike,
// mapped records) draw from. One list for both keeps a store benchmark's records the shape of
// what the pipeline benchmark sends.
package loadshape

import (
	"fmt"
	"math/rand/v2"
)

// Attribute counts of a record (inclusive): eleven request and audit fields, a possible
// secret, and filler up to a uniformly drawn width.
const (
	MinAttributes = 12
	MaxAttributes = 50
)

// SecretRatio is the share of records that carry one secret for the redactor to find.
const SecretRatio = 0.05

// Event is one kind of audit event and the request fields that go with it.
type Event struct{ Name, Message, Method, Path, Entity string }

var (
	Tenants  = []string{"acme", "globex", "initech", "umbrella"}
	Services = []string{"billing", "identity", "documents", "admin-console"}
	Scopes   = []string{"auth", "db", "server", "payments"}
	Events   = []Event{
		{"user.login", "user signed in with password and second factor", "POST", "/api/v1/session", "session"},
		{"user.logout", "user signed out", "DELETE", "/api/v1/session", "session"},
		{"document.view", "document opened", "GET", "/api/v1/documents/7f9c", "document"},
		{"document.share", "document shared with an external recipient", "POST", "/api/v1/documents/7f9c/share", "document"},
		{"invoice.paid", "invoice paid by card", "POST", "/api/v1/invoices/pay", "invoice"},
		{"role.grant", "role administrator granted by owner", "PUT", "/api/v1/users/42/roles", "user"},
		{"export.run", "monthly export finished", "POST", "/api/v1/exports", "export"},
		{"api.call", "API token used from a new network location", "GET", "/api/v1/reports", "token"},
	}
	Agents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0",
		"python-requests/2.32.3",
	}
	// Fillers make the values of the filler attributes, in turn: strings, numbers, bools and
	// the longer strings wide business events carry.
	Fillers = []func(r *rand.Rand) any{
		func(r *rand.Rand) any { return fmt.Sprintf("s-%08x", r.Uint32()) },
		func(r *rand.Rand) any { return int64(r.IntN(100_000)) },
		func(r *rand.Rand) any { return r.IntN(2) == 0 },
		func(r *rand.Rand) any { return r.Float64() * 1000 },
		func(r *rand.Rand) any { return "/api/v1/documents/{id}/share" },
		func(r *rand.Rand) any { return "2025-06-01T12:00:00.123456Z" },
		func(r *rand.Rand) any {
			return fmt.Sprintf("feature-%d enabled for cohort %c", r.IntN(40), 'A'+rune(r.IntN(6)))
		},
		func(r *rand.Rand) any { return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()) },
	}
)

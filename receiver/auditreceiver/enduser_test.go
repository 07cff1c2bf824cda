package auditreceiver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// A backend that posts events on behalf of its users names each user's address and user agent in
// the event; the record must carry the end user's, and keep the backend's own beside them.
func TestServer_TrustedSenderSetsTheEndUsersAddressAndUserAgent(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil) // the default trusts loopback senders

	r := srv.post(t, "application/json",
		`{"action":"user.login","user_id":"u-7","ip_address":"203.0.113.7","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"}`,
		"User-Agent", "billing-backend/2.1")
	require.Equal(t, http.StatusAccepted, r.status, r.raw)

	lr := logRecords(sink)[0]
	assert.Equal(t, "203.0.113.7", attr(lr, record.AttrClientAddr), "the end user's address wins")
	assert.Equal(t, "Mozilla/5.0 (X11; Linux x86_64)", attr(lr, record.AttrUserAgent), "the end user's agent wins")
	assert.Equal(t, "127.0.0.1", attr(lr, attrSenderAddress), "the sender's own address is kept")
	assert.Equal(t, "billing-backend/2.1", attr(lr, attrSenderUserAgent), "the sender's own agent is kept")

	rec := record.DefaultMapping().FromLogs(sink.AllLogs()[0], "", time.Now())[0]
	assert.Equal(t, "203.0.113.7", rec.IPAddress)
	assert.Equal(t, "Mozilla/5.0 (X11; Linux x86_64)", rec.UserAgent)
	assert.Equal(t, "127.0.0.1", rec.Attributes[attrSenderAddress])
	assert.Equal(t, "billing-backend/2.1", rec.Attributes[attrSenderUserAgent])
}

func TestServer_WithoutEndUserFieldsTheConnectionNamesTheClient(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	r := srv.post(t, "application/json", `{"action":"a","ip_address":null,"user_agent":""}`, "User-Agent", "cron/1")
	require.Equal(t, http.StatusAccepted, r.status, r.raw)

	lr := logRecords(sink)[0]
	assert.Equal(t, "127.0.0.1", attr(lr, record.AttrClientAddr))
	assert.Equal(t, "cron/1", attr(lr, record.AttrUserAgent))
	_, hasSender := lr.Attributes().Get(attrSenderAddress)
	assert.False(t, hasSender, "the sender attributes appear only when the event replaced the connection's values")
}

func TestServer_EndUserFieldsFromAnUntrustedSenderAreRefused(t *testing.T) {
	// Behind a trusted proxy on loopback, the sender is the forwarded address, which is not
	// loopback and so not trusted by default.
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, func(c *Config) { c.TrustedProxies = []string{"127.0.0.1"} })

	r := srv.post(t, "application/json", `{"action":"a","ip_address":"203.0.113.7","user_agent":"x"}`,
		"X-Forwarded-For", "198.51.100.9")
	require.Equal(t, http.StatusBadRequest, r.status, r.raw)
	assert.Equal(t, codeInvalidEvent, r.errorCode())
	details, _ := r.body["error"].(map[string]any)["details"].([]any)
	require.Len(t, details, 2, r.raw)
	for i, field := range []string{"ip_address", "user_agent"} {
		d := details[i].(map[string]any)
		assert.Equal(t, field, d["field"])
		assert.Contains(t, d["message"], "198.51.100.9")
		assert.Contains(t, d["message"], "trusted_senders")
	}
	assert.Zero(t, sink.LogRecordCount(), "nothing of a refused request reaches the pipeline")

	t.Run("the same sender listed in trusted_senders is believed", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		srv := startServer(t, sink, func(c *Config) {
			c.TrustedProxies = []string{"127.0.0.1"}
			c.TrustedSenders = []string{"198.51.100.0/24"}
		})
		r := srv.post(t, "application/json", `{"action":"a","ip_address":"203.0.113.7"}`,
			"X-Forwarded-For", "198.51.100.9", "User-Agent", "backend/1")
		require.Equal(t, http.StatusAccepted, r.status, r.raw)
		lr := logRecords(sink)[0]
		assert.Equal(t, "203.0.113.7", attr(lr, record.AttrClientAddr))
		assert.Equal(t, "198.51.100.9", attr(lr, attrSenderAddress))
		assert.Equal(t, "backend/1", attr(lr, record.AttrUserAgent), "the header stays the user agent when the event names none")
		_, hasSenderUA := lr.Attributes().Get(attrSenderUserAgent)
		assert.False(t, hasSenderUA)
	})
	t.Run("an empty trusted_senders trusts nobody, loopback included", func(t *testing.T) {
		srv := startServer(t, new(consumertest.LogsSink), func(c *Config) { c.TrustedSenders = []string{} })
		r := srv.post(t, "application/json", `{"action":"a","ip_address":"203.0.113.7"}`)
		require.Equal(t, http.StatusBadRequest, r.status, r.raw)
		assert.Contains(t, r.raw, "127.0.0.1")
	})
	t.Run("with partial_success the other events are taken", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		srv := startServer(t, sink, func(c *Config) {
			c.TrustedProxies = []string{"127.0.0.1"}
			c.PartialSuccess = true
		})
		r := srv.post(t, "application/json", `[{"action":"a","ip_address":"203.0.113.7"},{"action":"b"}]`,
			"X-Forwarded-For", "198.51.100.9")
		require.Equal(t, http.StatusAccepted, r.status, r.raw)
		assert.Len(t, r.ids(), 1)
		assert.Equal(t, "198.51.100.9", attr(logRecords(sink)[0], record.AttrClientAddr))
	})
}

func TestServer_EndUserFieldsAreValidated(t *testing.T) {
	srv := startServer(t, new(consumertest.LogsSink), nil)
	tests := []struct {
		name, body, field, message string
	}{
		{name: "not an address", body: `{"action":"a","ip_address":"example.com"}`, field: "ip_address", message: "expected an IPv4 or IPv6 address"},
		{name: "an address with a port", body: `{"action":"a","ip_address":"203.0.113.7:443"}`, field: "ip_address", message: "expected an IPv4 or IPv6 address"},
		{name: "not a string", body: `{"action":"a","ip_address":7}`, field: "ip_address", message: "expected a string"},
		{name: "a user agent too long", body: `{"action":"a","user_agent":"` + strings.Repeat("x", maxUserAgentBytes+1) + `"}`, field: "user_agent", message: "longer than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := srv.post(t, "application/json", tt.body)
			require.Equal(t, http.StatusBadRequest, r.status, r.raw)
			d := r.body["error"].(map[string]any)["details"].([]any)[0].(map[string]any)
			assert.Equal(t, tt.field, d["field"])
			assert.Contains(t, d["message"], tt.message)
		})
	}
}

func TestServer_EndUserAddressIsStoredInCanonicalForm(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	r := srv.post(t, "application/json", `[{"action":"a","ip_address":"::ffff:203.0.113.7"},{"action":"b","ip_address":"2001:DB8::1"}]`)
	require.Equal(t, http.StatusAccepted, r.status, r.raw)
	records := logRecords(sink)
	assert.Equal(t, "203.0.113.7", attr(records[0], record.AttrClientAddr), "an IPv4-mapped address is stored as IPv4, so an ip filter finds it")
	assert.Equal(t, "2001:db8::1", attr(records[1], record.AttrClientAddr))
}

package redactprocessor

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
)

const (
	jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	mask = "[REDACTED]"
)

func defaultConfig(mutate func(*Config)) *Config {
	cfg := createDefaultConfig().(*Config)
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func newLogsProcessor(t *testing.T, cfg *Config) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err, "CreateLogs")
	return p, sink
}

// valueAt follows a path of map keys and slice indexes ("request", "headers", 0) from m.
func valueAt(t *testing.T, m pcommon.Map, path ...any) pcommon.Value {
	t.Helper()
	var cur pcommon.Value
	for i, step := range path {
		switch s := step.(type) {
		case string:
			var container pcommon.Map
			if i == 0 {
				container = m
			} else {
				container = cur.Map()
			}
			v, ok := container.Get(s)
			require.True(t, ok, "no key %q at %v", s, path[:i+1])
			cur = v
		case int:
			cur = cur.Slice().At(s)
		}
	}
	return cur
}

func wantStr(t *testing.T, m pcommon.Map, want string, path ...any) {
	t.Helper()
	v := valueAt(t, m, path...)
	const msg = "%v = %s %q, want string %q"
	assert.Equal(t, pcommon.ValueTypeStr, v.Type(), msg, path, v.Type(), v.AsString(), want)
	assert.Equal(t, want, v.Str(), msg, path, v.Type(), v.AsString(), want)
}

func summaryOf(t *testing.T, attrs pcommon.Map) (int64, []string) {
	t.Helper()
	c, ok := attrs.Get("redaction.count")
	if !ok {
		return 0, nil
	}
	r, ok := attrs.Get("redaction.rules")
	require.True(t, ok, "redaction.count without a redaction.rules slice")
	require.Equal(t, pcommon.ValueTypeSlice, r.Type(), "redaction.count without a redaction.rules slice")
	var rules []string
	for _, v := range r.Slice().All() {
		rules = append(rules, v.Str())
	}
	return c.Int(), rules
}

func TestLogs_EveryScopeIsRedacted(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) { c.Summary = true }))

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	rl.Resource().Attributes().PutStr("db.password", "resource-secret")
	rl.Resource().Attributes().PutStr("deploy.note", "rolled out with token=abc123 by ci")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("auth")
	sl.Scope().Attributes().PutStr("X-Api-Key", "scope-secret")

	// A record with secrets in attributes at every depth and in a string body.
	lr := sl.LogRecords().AppendEmpty()
	attrs := lr.Attributes()
	attrs.PutStr("user.id", "u-42")
	attrs.PutStr("password", "hunter2")
	attrs.PutInt("gen_ai.usage.input_tokens", 42)
	attrs.PutStr("trace.note", "4bf92f3577b34da6a3ce929d0e0e4736")
	attrs.PutInt("payment.amount_ref", 4111111111111111)
	authz := attrs.PutEmptySlice("http.request.header.x-forwarded")
	authz.AppendEmpty().SetStr("Bearer " + jwt)
	req := attrs.PutEmptyMap("request")
	headers := req.PutEmptyMap("headers")
	headers.PutStr("Cookie", "sid=abc; theme=dark")
	headers.PutStr("Accept", "application/json")
	params := req.PutEmptySlice("params")
	p0 := params.AppendEmpty().SetEmptyMap()
	p0.PutStr("note", "card 4111 1111 1111 1111")
	p1 := params.AppendEmpty().SetEmptyMap()
	p1.PutStr("client_secret", "cs-123")
	p1.PutStr("name", "checkout")
	creds := attrs.PutEmptyMap("credentials")
	creds.PutStr("user", "alice")
	creds.PutStr("pass", "b")
	lr.Body().SetStr("login failed for alice password=hunter2 from 10.0.0.1")

	// A record with a map body and nothing in its attributes.
	lr2 := sl.LogRecords().AppendEmpty()
	body := lr2.Body().SetEmptyMap()
	body.PutStr("event", "user.login")
	body.PutStr("secret", "s")
	nested := body.PutEmptySlice("nested")
	nested.AppendEmpty().SetStr("dsn postgres://app:s3cr3t@db:5432/audit")
	nested.AppendEmpty().SetEmptyMap().PutInt("sessionToken", 7)

	// A record without secrets.
	lr3 := sl.LogRecords().AppendEmpty()
	lr3.Attributes().PutStr("event.name", "order.created")
	lr3.Body().SetStr("order 550e8400-e29b-41d4-a716-446655440000 created at 2024-01-02T03:04:05Z")

	require.NoError(t, p.ConsumeLogs(context.Background(), ld), "ConsumeLogs")
	require.Len(t, sink.AllLogs(), 1, "sink got %d batches, want 1", len(sink.AllLogs()))
	out := sink.AllLogs()[0].ResourceLogs().At(0)
	res := out.Resource().Attributes()
	wantStr(t, res, "billing", "service.name")
	wantStr(t, res, mask, "db.password")
	wantStr(t, res, "rolled out with token="+mask+" by ci", "deploy.note")
	_, ok := res.Get("redaction.count")
	assert.False(t, ok, "the resource got a summary; summaries belong on records")
	outScope := out.ScopeLogs().At(0)
	wantStr(t, outScope.Scope().Attributes(), mask, "X-Api-Key")

	recs := outScope.LogRecords()
	a := recs.At(0).Attributes()
	wantStr(t, a, "u-42", "user.id")
	wantStr(t, a, mask, "password")
	v := valueAt(t, a, "gen_ai.usage.input_tokens")
	assert.Equal(t, pcommon.ValueTypeInt, v.Type(), "a token count was changed to %s %q", v.Type(), v.AsString())
	assert.Equal(t, int64(42), v.Int(), "a token count was changed to %s %q", v.Type(), v.AsString())
	wantStr(t, a, "4bf92f3577b34da6a3ce929d0e0e4736", "trace.note")
	wantStr(t, a, mask, "payment.amount_ref")
	wantStr(t, a, "Bearer "+mask, "http.request.header.x-forwarded", 0)
	wantStr(t, a, mask, "request", "headers", "Cookie")
	wantStr(t, a, "application/json", "request", "headers", "Accept")
	wantStr(t, a, "card "+mask, "request", "params", 0, "note")
	wantStr(t, a, mask, "request", "params", 1, "client_secret")
	wantStr(t, a, "checkout", "request", "params", 1, "name")
	wantStr(t, a, mask, "credentials")
	got := recs.At(0).Body().Str()
	assert.Equal(t, "login failed for alice password="+mask+" from 10.0.0.1", got, "string body = %q", got)
	count, rules := summaryOf(t, a)
	// password, the card-number int, the bearer JWT, Cookie, the card in params, client_secret,
	// credentials, and the password in the body.
	assert.Equal(t, int64(8), count, "redaction.count = %d, want 8", count)
	for _, want := range []string{"field:password", "card_number", "jwt", "bearer_token", "field:cookie", "field:secret", "field:credential", "key_value"} {
		assert.Contains(t, rules, want, "redaction.rules = %q, missing %q", rules, want)
	}

	b := recs.At(1).Body().Map()
	wantStr(t, b, "user.login", "event")
	wantStr(t, b, mask, "secret")
	wantStr(t, b, "dsn postgres://app:"+mask+"@db:5432/audit", "nested", 0)
	wantStr(t, b, mask, "nested", 1, "sessionToken")
	count, rules = summaryOf(t, recs.At(1).Attributes())
	const mapMsg = "map-body record summary = %d %q, want 3 [field:secret url_password field:token]"
	assert.Equal(t, int64(3), count, mapMsg, count, rules)
	assert.Equal(t, []string{"field:secret", "url_password", "field:token"}, rules, mapMsg, count, rules)

	count, _ = summaryOf(t, recs.At(2).Attributes())
	const quietMsg = "a record without secrets got a summary or lost attributes: %v"
	assert.Zero(t, count, quietMsg, recs.At(2).Attributes().AsRaw())
	assert.Equal(t, 1, recs.At(2).Attributes().Len(), quietMsg, recs.At(2).Attributes().AsRaw())
	got = recs.At(2).Body().Str()
	assert.True(t, strings.HasPrefix(got, "order 550e8400"), "a body without secrets changed to %q", got)
}

func TestLogs_AllowKeysKeepWholeValues(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) {
		c.AllowKeys = []string{"Session.ID", "debug"}
	}))
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("session.id", jwt)
	dbg := lr.Attributes().PutEmptyMap("debug")
	dbg.PutStr("password", "kept-on-purpose")
	lr.Attributes().PutStr("session.token", "t")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	a := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	wantStr(t, a, jwt, "session.id")
	wantStr(t, a, "kept-on-purpose", "debug", "password")
	wantStr(t, a, mask, "session.token")
}

func TestLogs_SecondPassChangesNothing(t *testing.T) {
	cfg := defaultConfig(func(c *Config) { c.Summary = true })
	p, sink := newLogsProcessor(t, cfg)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("password", "x")
	lr.Body().SetStr("Authorization: Bearer " + jwt)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	once := sink.AllLogs()[0]
	onceRaw := once.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw()

	again := plog.NewLogs()
	once.CopyTo(again)
	require.NoError(t, p.ConsumeLogs(context.Background(), again))
	twice := sink.AllLogs()[1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	count, _ := summaryOf(t, twice.Attributes())
	assert.Equal(t, int64(2), count, "after a second pass redaction.count = %d, want the first pass's 2 (first pass: %v)", count, onceRaw)
	got := twice.Body().Str()
	assert.Equal(t, "Authorization: "+mask, got, "body after two passes = %q", got)
}

func TestLogs_SummaryIsOffByDefault(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(nil))
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("password", "x")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	a := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	assert.Equal(t, 1, a.Len(), "attributes = %v, want only the masked password", a.AsRaw())
}

func TestLogs_ConfigOptionsApply(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) {
		c.Mask = "***"
		c.FieldRules = FieldRulesConfig{Add: []string{"employee_salary"}, Remove: []string{"session"}}
		c.ValueRules = ValueRulesConfig{Disable: []string{"card_number"}}
		c.CustomRules = []CustomRuleConfig{{Name: "badge_pin", Regex: `pin-(\d{4})`}}
		c.Summary = true
	}))
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	a := lr.Attributes()
	a.PutInt("hr.employeeSalary", 100000)
	a.PutStr("session.id", "s-1")
	a.PutStr("note", "card 4111111111111111 badge pin-1234")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	wantStr(t, got, "***", "hr.employeeSalary")
	wantStr(t, got, "s-1", "session.id")
	wantStr(t, got, "card 4111111111111111 badge pin-***", "note")
	count, rules := summaryOf(t, got)
	assert.Equal(t, int64(2), count, "summary = %d %q", count, rules)
	assert.Equal(t, []string{"field:employee_salary", "badge_pin"}, rules, "summary = %d %q", count, rules)
}

func TestTraces_SpanEventAndLinkAttributesAreRedacted(t *testing.T) {
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type),
		defaultConfig(func(c *Config) { c.Summary = true }), sink)
	require.NoError(t, err)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("k8s.secret.name", "db-creds") // a near miss: a name, not a secret
	rs.Resource().Attributes().PutStr("env.API_TOKEN", "resource-token")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().Attributes().PutStr("note", "key AKIAIOSFODNN7EXAMPLE")
	span := ss.Spans().AppendEmpty()
	span.SetName("POST /login")
	span.Attributes().PutStr("http.request.header.authorization", "Basic dXNlcjpwYXNz")
	span.Attributes().PutStr("url.full", "https://api.example.com/cb?code=1&access_token=abc.def")
	ev := span.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.message", "bad key -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----")
	link := span.Links().AppendEmpty()
	link.Attributes().PutStr("peer.jwt", jwt)
	quiet := ss.Spans().AppendEmpty()
	quiet.Attributes().PutStr("http.route", "/health")

	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	out := sink.AllTraces()[0].ResourceSpans().At(0)
	wantStr(t, out.Resource().Attributes(), "db-creds", "k8s.secret.name")
	wantStr(t, out.Resource().Attributes(), mask, "env.API_TOKEN")
	wantStr(t, out.ScopeSpans().At(0).Scope().Attributes(), "key "+mask, "note")
	s := out.ScopeSpans().At(0).Spans().At(0)
	wantStr(t, s.Attributes(), mask, "http.request.header.authorization")
	wantStr(t, s.Attributes(), "https://api.example.com/cb?code=1&access_token="+mask, "url.full")
	wantStr(t, s.Events().At(0).Attributes(), "bad key "+mask, "exception.message")
	wantStr(t, s.Links().At(0).Attributes(), mask, "peer.jwt")
	count, rules := summaryOf(t, s.Attributes())
	const spanMsg = "span summary = %d %q, want 4 covering span, event and link"
	assert.Equal(t, int64(4), count, spanMsg, count, rules)
	assert.Equal(t, []string{"field:authorization", "url_query", "key_value", "pem_private_key", "field:jwt"}, rules, spanMsg, count, rules)
	q := out.ScopeSpans().At(0).Spans().At(1).Attributes()
	assert.Equal(t, 1, q.Len(), "a span without secrets got %v", q.AsRaw())
}

func TestMetrics_EveryDataPointTypeIsRedacted(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type),
		defaultConfig(func(c *Config) { c.Summary = true }), sink)
	require.NoError(t, err)
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	rm.Resource().Attributes().PutStr("db.password", "r")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().Attributes().PutStr("secret", "s")
	ms := sm.Metrics()

	secretAttrs := func(a pcommon.Map) {
		a.PutStr("http.route", "/login")
		a.PutStr("api_key", "k-123")
	}
	g := ms.AppendEmpty()
	g.SetName("gauge")
	gdp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	secretAttrs(gdp.Attributes())
	gdp.Exemplars().AppendEmpty().FilteredAttributes().PutStr("user.password", "e")
	sum := ms.AppendEmpty()
	sum.SetName("sum")
	secretAttrs(sum.SetEmptySum().DataPoints().AppendEmpty().Attributes())
	h := ms.AppendEmpty()
	h.SetName("histogram")
	secretAttrs(h.SetEmptyHistogram().DataPoints().AppendEmpty().Attributes())
	eh := ms.AppendEmpty()
	eh.SetName("exp_histogram")
	secretAttrs(eh.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes())
	su := ms.AppendEmpty()
	su.SetName("summary")
	secretAttrs(su.SetEmptySummary().DataPoints().AppendEmpty().Attributes())

	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	out := sink.AllMetrics()[0].ResourceMetrics().At(0)
	wantStr(t, out.Resource().Attributes(), mask, "db.password")
	wantStr(t, out.Resource().Attributes(), "api", "service.name")
	wantStr(t, out.ScopeMetrics().At(0).Scope().Attributes(), mask, "secret")
	outMs := out.ScopeMetrics().At(0).Metrics()
	points := map[string]pcommon.Map{
		"gauge":         outMs.At(0).Gauge().DataPoints().At(0).Attributes(),
		"sum":           outMs.At(1).Sum().DataPoints().At(0).Attributes(),
		"histogram":     outMs.At(2).Histogram().DataPoints().At(0).Attributes(),
		"exp_histogram": outMs.At(3).ExponentialHistogram().DataPoints().At(0).Attributes(),
		"summary":       outMs.At(4).Summary().DataPoints().At(0).Attributes(),
	}
	for name, a := range points {
		wantStr(t, a, "/login", "http.route")
		wantStr(t, a, mask, "api_key")
		wantCount := int64(1)
		if name == "gauge" {
			wantCount = 2 // the exemplar's filtered attribute counts on its data point
		}
		count, _ := summaryOf(t, a)
		assert.Equal(t, wantCount, count, "%s data point redaction.count = %d, want %d", name, count, wantCount)
	}
	ex := outMs.At(0).Gauge().DataPoints().At(0).Exemplars().At(0).FilteredAttributes()
	wantStr(t, ex, mask, "user.password")
}

func TestLogs_ConcurrentBatchesAreIndependent(t *testing.T) {
	// One processor instance serves many pipelines' goroutines; run with -race.
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) { c.Summary = true }))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ld := plog.NewLogs()
				lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
				lr.Attributes().PutStr("password", "x")
				lr.Body().SetStr("token=abc")
				if !assert.NoError(t, p.ConsumeLogs(context.Background(), ld)) {
					return
				}
			}
		}()
	}
	wg.Wait()
	got := sink.LogRecordCount()
	require.Equal(t, 200, got, "sink got %d records, want 200", got)
	for _, ld := range sink.AllLogs() {
		lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		count, _ := summaryOf(t, lr.Attributes())
		require.Equal(t, int64(2), count, "record = %v body %q", lr.Attributes().AsRaw(), lr.Body().Str())
		require.Equal(t, "token="+mask, lr.Body().Str(), "record = %v body %q", lr.Attributes().AsRaw(), lr.Body().Str())
	}
}

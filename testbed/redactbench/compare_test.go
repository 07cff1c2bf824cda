package redactbench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// fake builds deterministic token bodies so that no real-looking credential is in the source.
func fake(n int, alphabet string) string {
	var b strings.Builder
	x := uint32(88172645)
	for range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(alphabet[int(x%uint32(len(alphabet)))])
	}
	return b.String()
}

const base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var (
	awsSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // the AWS documentation's example
	ghToken    = "ghp_" + fake(36, base62)
	glToken    = "glpat-" + fake(20, base62)
	slackToken = "xoxb-123456789012-1234567890123-" + fake(24, base62)
	slackHook  = "T00000000/B00000000/" + fake(24, base62)
	stripeKey  = "sk_live_" + fake(24, base62)
	googleKey  = "AIza" + fake(35, base62)
	randomKey  = fake(28, base62)
	pemKey     = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH\n-----END RSA PRIVATE KEY-----"
)

// secretCase puts secrets into one log record; the processor catches the case when none of
// them is left anywhere in the record.
type secretCase struct {
	name    string
	secrets []string
	fill    func(lr plog.LogRecord)
}

func attr(key, value string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) { lr.Attributes().PutStr(key, value) }
}

func body(s string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) { lr.Body().SetStr(s) }
}

var secretCases = []secretCase{
	{"a password attribute", []string{"hunter2"}, attr("db.password", "hunter2")},
	{"an authorization header attribute", []string{JWT}, attr("http.request.header.authorization", "Bearer "+JWT)},
	{"a JWT under a neutral key", []string{JWT}, attr("upstream.note", "forwarded "+JWT)},
	{"a password in a logfmt message", []string{"hunter2"}, attr("message", "login failed password=hunter2 user=bob")},
	{"a password in a URL", []string{"s3cr3t"}, attr("db.connection_string", "postgres://app:s3cr3t@db:5432/audit")},
	{"a card number in prose", []string{"4111 1111 1111 1111"}, attr("payment.note", "charged 4111 1111 1111 1111 ok")},
	{"an AWS access key id", []string{"AKIAIOSFODNN7EXAMPLE"}, attr("note", "using AKIAIOSFODNN7EXAMPLE")},
	{"an AWS secret key in an env dump", []string{awsSecret}, body("AWS_SECRET_ACCESS_KEY=" + awsSecret)},
	{"an AWS secret key in prose", []string{awsSecret}, body("aws credentials rotated, new secret " + awsSecret)},
	{"a GitHub token", []string{ghToken}, attr("ci.log", "cloning with "+ghToken)},
	{"a GitLab token", []string{glToken}, attr("ci.log", "pushing with "+glToken)},
	{"a Slack bot token", []string{slackToken}, attr("notify.config", "slack "+slackToken)},
	{"a Slack webhook URL", []string{slackHook}, attr("notify.url", "https://hooks.slack.com/services/"+slackHook)},
	{"a Stripe live key", []string{stripeKey}, attr("billing.note", "charging with "+stripeKey)},
	{"a Google API key in a query", []string{googleKey}, attr("url.full", "https://maps.googleapis.com/api?key="+googleKey)},
	{"a PEM private key in a body", []string{"MIIEowIBAAKCAQEA1c7"}, body("loaded " + pemKey)},
	{"basic credentials under a neutral key", []string{"dXNlcjpwYXNzd29yZA=="}, attr("upstream.header", "Basic dXNlcjpwYXNzd29yZA==")},
	{"a password in a JSON body", []string{"hunter2"}, body(`{"user":"bob","password":"hunter2"}`)},
	{"a nested credentials object in a JSON body", []string{"hunter2"}, body(`{"credentials":{"user":"bob","pass":"hunter2"}}`)},
	{"a signature in a pre-signed URL", []string{"fe5f80f77d5fa3beca038a248ff027d0"},
		attr("url.full", "https://b.s3.amazonaws.com/o?X-Amz-Expires=300&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0")},
	{"a token in a URL query", []string{"abc123def456"}, attr("url.full", "https://api.example.com/cb?state=x&access_token=abc123def456")},
	{"a random value under a license key", []string{randomKey}, attr("license_key", randomKey)},
	{"a secret in a nested map attribute", []string{"hunter2"}, func(lr plog.LogRecord) {
		lr.Attributes().PutEmptyMap("request").PutEmptyMap("headers").PutStr("authorization", "hunter2")
	}},
	{"a secret in a slice attribute", []string{JWT}, func(lr plog.LogRecord) {
		lr.Attributes().PutEmptySlice("tokens.seen").AppendEmpty().SetStr(JWT)
	}},
	{"a card number stored as an integer", []string{"4111111111111111"}, func(lr plog.LogRecord) {
		lr.Attributes().PutInt("payment.pan", 4111111111111111)
	}},
	{"a password in a map body", []string{"hunter2"}, func(lr plog.LogRecord) {
		lr.Body().SetEmptyMap().PutStr("password", "hunter2")
	}},
}

// nearMissCases hold no secret: a processor that changes them masks too much.
var nearMissCases = []struct {
	name  string
	key   string
	value string
}{
	{"a GenAI token count", "gen_ai.usage.input_tokens", "1234"},
	{"a tokenizer name", "llm.tokenizer", "cl100k_base"},
	{"a password policy", "auth.password_policy", "min12-upper-digit"},
	{"a Kubernetes secret name", "k8s.secret.name", "db-credentials"},
	{"a git SHA-1", "vcs.revision", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	{"a trace id", "trace.parent", "4bf92f3577b34da6a3ce929d0e0e4736"},
	{"a Luhn-invalid card-length number", "order.ref", "4111 1111 1111 1112"},
	{"prose about a bearer token", "docs.hint", "send a bearer token in the header"},
	{"a session duration", "session.duration", "3600"},
	{"a nanosecond timestamp", "event.ts", "1704067200123456789"},
}

// catches runs one record through impl and reports whether none of the secrets survived.
func catches(t *testing.T, impl Impl, fill func(plog.LogRecord), secrets []string) (bool, string) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	p, err := NewLogs(impl, sink)
	require.NoError(t, err)
	ld := plog.NewLogs()
	fill(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	require.NoErrorf(t, p.ConsumeLogs(context.Background(), ld), "%s: ConsumeLogs", impl.Name)
	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	dump := fmt.Sprint(lr.Attributes().AsRaw(), " body=", lr.Body().AsString())
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			return false, dump
		}
	}
	return true, dump
}

func TestCatches_OursCatchesASupersetOfContrib(t *testing.T) {
	ours, contrib := Ours(), Contrib()
	var table strings.Builder
	table.WriteString("\n| input | ours | contrib |\n|---|---|---|\n")
	oursCount, contribCount := 0, 0
	for _, tc := range secretCases {
		o, oDump := catches(t, ours, tc.fill, tc.secrets)
		c, _ := catches(t, contrib, tc.fill, tc.secrets)
		fmt.Fprintf(&table, "| %s | %s | %s |\n", tc.name, mark(o), mark(c))
		if o {
			oursCount++
		}
		if c {
			contribCount++
		}
		if c {
			assert.True(t, o, "%s: contrib catches it and ours does not: %s", tc.name, oDump)
		}
		assert.True(t, o, "%s: ours let a secret through: %s", tc.name, oDump)
	}
	fmt.Fprintf(&table, "| **caught** | **%d/%d** | **%d/%d** |\n", oursCount, len(secretCases), contribCount, len(secretCases))
	t.Log(table.String())
	assert.NotZero(t, contribCount, "contrib caught nothing: its configuration is not applied, the comparison is void")
}

func TestCatches_NearMissesSurviveOurs(t *testing.T) {
	ours, contrib := Ours(), Contrib()
	var table strings.Builder
	table.WriteString("\n| input (no secret) | ours keeps it | contrib keeps it |\n|---|---|---|\n")
	for _, tc := range nearMissCases {
		kept := func(impl Impl) bool {
			changed, _ := catches(t, impl, attr(tc.key, tc.value), []string{tc.value})
			return !changed
		}
		o, c := kept(ours), kept(contrib)
		fmt.Fprintf(&table, "| %s (`%s`) | %s | %s |\n", tc.name, tc.key, mark(o), mark(c))
		assert.True(t, o, "%s: ours masked %s=%q, which holds no secret", tc.name, tc.key, tc.value)
	}
	t.Log(table.String())
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// TestBatches_SecretsAreCaughtByBoth checks the benchmark's premise: on the secret batches both
// processors remove every planted secret, and on the typical batches neither changes anything.
func TestBatches_SecretsAreCaughtByBoth(t *testing.T) {
	for _, impl := range []Impl{Ours(), Contrib(), ContribCombined()} {
		for _, w := range workloads {
			sink := new(consumertest.LogsSink)
			p, err := NewLogs(impl, sink)
			require.NoError(t, err)
			in := Batch(w.attrs, w.secrets)
			want := Batch(w.attrs, w.secrets)
			require.NoError(t, p.ConsumeLogs(context.Background(), in))
			got := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			orig := want.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			changed := 0
			for i := range got.Len() {
				got.At(i).Attributes().Range(func(k string, v pcommon.Value) bool {
					o, _ := orig.At(i).Attributes().Get(k)
					if v.AsString() != o.AsString() {
						changed++
					}
					return true
				})
			}
			wantChanged := 0
			if w.secrets {
				wantChanged = SecretsPerRecord * BatchRecords
			}
			assert.Equal(t, wantChanged, changed, "%s on %s: attribute values changed", impl.Name, workloadName(w.attrs, w.secrets))
		}
	}
}

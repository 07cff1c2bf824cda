package redact_test

import (
	"fmt"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// The examples of the README, one per value rule, kept honest by `go test`.
func ExampleRedactor_RedactString() {
	r, err := redact.New(redact.Options{})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"auth with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl done",
		"forwarding Bearer mF_9.B5f-4.1JqM upstream",
		"header was Basic dXNlcjpwYXNzd29yZA==",
		"key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY----- loaded",
		"charged 4111 1111 1111 1111, ref 4111 1111 1111 1112",
		"using AKIAIOSFODNN7EXAMPLE in us-east-1",
		"dsn postgres://app:s3cr3t@db:5432/audit",
		`login failed password=hunter2 user=bob {"api_key": "k-123", "tokens_used": 42}`,
	} {
		var rep redact.Report
		fmt.Printf("%q %v\n", r.RedactString(s, &rep), rep.Rules)
	}
	// Output:
	// "auth with [REDACTED] done" [jwt]
	// "forwarding Bearer [REDACTED] upstream" [bearer_token]
	// "header was Basic [REDACTED]" [basic_auth]
	// "key: [REDACTED] loaded" [pem_private_key]
	// "charged [REDACTED], ref 4111 1111 1111 1112" [card_number]
	// "using [REDACTED] in us-east-1" [aws_access_key_id]
	// "dsn postgres://app:[REDACTED]@db:5432/audit" [url_password]
	// "login failed password=[REDACTED] user=bob {\"api_key\": \"[REDACTED]\", \"tokens_used\": 42}" [key_value]
}

func ExampleRedactor_ClassifyKey() {
	r, err := redact.New(redact.Options{AllowKeys: []string{"session.id"}})
	if err != nil {
		panic(err)
	}
	for _, k := range []string{"db.password", "X-Api-Key", "sessionToken", "session.id", "token_count", "gen_ai.usage.input_tokens", "process.name"} {
		verdict, rule := r.ClassifyKey(k)
		fmt.Println(strings.TrimSpace(fmt.Sprintln(k, verdict, rule)))
	}
	// Output:
	// db.password secret field:password
	// X-Api-Key secret field:api_key
	// sessionToken secret field:token
	// session.id allowed
	// token_count plain
	// gen_ai.usage.input_tokens plain
	// process.name plain
}

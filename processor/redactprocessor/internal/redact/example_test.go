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

// The README's examples of the second-stage rules.
func ExampleRedactor_RedactString_moreRules() {
	r, err := redact.New(redact.Options{})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"rotated aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY today",
		"cloned with ghp_U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8D",
		"pushed with glpat-klZDOCj2ISaJiHkTj0rL",
		"bot xoxb-2400000000001-2400000000002-GlkoMXGjtEkDnNfribxUdl7d",
		"POST https://hooks.slack.com/services/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",
		"charging with sk_live_XTPyLsxPFkThf4VucSmEHgaK",
		"geocode key AIzawVJ7faC9qEwjky40UVsWmflzdE1F8ResqED",
		"GET /cb?state=xyz&token=abc123&sig=9f86d081 200",
		"license_key=xSIvPZZ63fFKcZjR4I0b3jRt plan=pro",
		`{"user":"bob","credentials":{"password":"x"},"pan":4111111111111111,"note":"ok"}`,
	} {
		var rep redact.Report
		fmt.Printf("%q %v\n", r.RedactString(s, &rep), rep.Rules)
	}
	// Output:
	// "aws_secret_access_key = [REDACTED]" [aws_secret_access_key key_value]
	// "rotated aws secret [REDACTED] today" [aws_secret_access_key]
	// "cloned with [REDACTED]" [github_token]
	// "pushed with [REDACTED]" [gitlab_token]
	// "bot [REDACTED]" [slack_token]
	// "POST https://hooks.slack.com/services/[REDACTED]" [slack_webhook]
	// "charging with [REDACTED]" [stripe_key]
	// "geocode key [REDACTED]" [google_api_key]
	// "GET /cb?state=xyz&token=[REDACTED]&sig=[REDACTED] 200" [url_query key_value]
	// "license_key=[REDACTED] plan=pro" [high_entropy]
	// "{\"user\":\"bob\",\"credentials\":\"[REDACTED]\",\"pan\":\"[REDACTED]\",\"note\":\"ok\"}" [json card_number]
}

func ExampleRedactor_RedactString_optionalRules() {
	r, err := redact.New(redact.Options{EnableValueRules: redact.OptionalValueRules})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"invite sent to alice@example.com",
		"login from 203.0.113.7 and 2001:db8::7334",
		"call +44 20 7946 0958",
	} {
		var rep redact.Report
		fmt.Printf("%q %v\n", r.RedactString(s, &rep), rep.Rules)
	}
	// Output:
	// "invite sent to [REDACTED]" [email]
	// "login from [REDACTED] and [REDACTED]" [ipv4 ipv6]
	// "call [REDACTED]" [phone]
}

func ExampleRedactor_RedactString_actions() {
	r, err := redact.New(redact.Options{
		DefaultAction: redact.ActionPartial,
		Actions:       map[string]redact.Action{redact.RuleKeyValue: redact.ActionHash},
		HashKey:       []byte("an example key of at least 32 bytes"),
	})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"charged 4111 1111 1111 1111",
		"cloned with ghp_U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8D",
		"login failed password=hunter2 retry password=hunter2",
		"dsn postgres://app:s3cr3t@db:5432/audit",
	} {
		fmt.Printf("%q\n", r.RedactString(s, nil))
	}
	// Output:
	// "charged [REDACTED-1111]"
	// "cloned with ghp_[REDACTED]"
	// "login failed password=[HMAC:b6ec5bbec076e154] retry password=[HMAC:b6ec5bbec076e154]"
	// "dsn postgres://app:[REDACTED]@db:5432/audit"
}

func ExampleRedactor_RedactString_highEntropy() {
	r, err := redact.New(redact.Options{})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"license_key=xSIvPZZ63fFKcZjR4I0b3jRt",
		"X-Hub-Signature: 9f86d081884c7d659a2feaa0",
		"license_key=standard-edition",
		"key_id=xSIvPZZ63fFKcZjR4I0b3jRt",
	} {
		fmt.Printf("%q\n", r.RedactString(s, nil))
	}
	// Output:
	// "license_key=[REDACTED]"
	// "X-Hub-Signature: [REDACTED]"
	// "license_key=standard-edition"
	// "key_id=xSIvPZZ63fFKcZjR4I0b3jRt"
}

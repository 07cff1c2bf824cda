package redact

import "strings"

// urlCredentialParams are query parameter names (lower case) that carry a credential in URLs
// although the field rules do not call them secrets: pre-signed URL signatures and credentials
// of AWS, Google Cloud and Azure SAS (sig), and the short password names of some web forms.
var urlCredentialParams = []string{
	"sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
	"x-goog-signature", "x-goog-credential", "pass", "pw",
}

// findQueryParams masks, in every query string (the part after '?'), the value of each
// parameter whose name is a secret by the field rules or is one of urlCredentialParams; names
// and the other parameters are kept: `/cb?state=x&token=abc&sig=def` becomes
// `/cb?state=x&token=[REDACTED]&sig=[REDACTED]`. A value ends at '&', '#', a quote or a blank.
func findQueryParams(fm *fieldMatcher, s string, dst []span, id int) []span {
	for q := 0; ; {
		j := strings.IndexByte(s[q:], '?')
		if j < 0 {
			return dst
		}
		i := q + j + 1
		q = i
		for i < len(s) {
			nameEnd := i
			for nameEnd < len(s) && isQueryNameChar(s[nameEnd]) {
				nameEnd++
			}
			if nameEnd == i || nameEnd >= len(s) || s[nameEnd] != '=' {
				break
			}
			ve := indexAnyFrom(s, nameEnd+1, "&#\"' \t\r\n")
			if ve > nameEnd+1 && isCredentialParam(fm, s[i:nameEnd]) {
				dst = append(dst, span{start: nameEnd + 1, end: ve, rule: id})
			}
			if ve >= len(s) || s[ve] != '&' {
				q = ve
				break
			}
			i = ve + 1
		}
	}
}

func isQueryNameChar(c byte) bool {
	return isInlineKeyChar(c) || c == '%' || c == '[' || c == ']'
}

func isCredentialParam(fm *fieldMatcher, name string) bool {
	if fm.allowed(name) {
		return false
	}
	for _, p := range urlCredentialParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return fm.match(name) != nil
}

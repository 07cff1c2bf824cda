package auditqueryextension

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/client"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/jwtauth"
)

// jwtGate authenticates API requests with the built-in JWT check and hands the caller on in
// client.Info, exactly where an auth extension run by confighttp would have put it, so that
// principalFromRequest serves both.
type jwtGate struct {
	verifier                          *jwtauth.Verifier
	userClaim, tenantClaim, roleClaim string
}

func newJWTGate(cfg *JWTConfig) (*jwtGate, error) {
	var secret []byte // nil, not empty, when unset: an empty secret is "no HS256", not a short key
	if cfg.Secret != "" {
		secret = []byte(string(cfg.Secret))
	}
	v, err := jwtauth.New(jwtauth.Options{
		Secret:     secret,
		SecretFile: cfg.SecretFile,
		JWKSFile:   cfg.JWKSFile,
		Issuer:     cfg.Issuer,
		Audience:   cfg.Audience,
		Leeway:     cfg.Leeway,
	})
	if err != nil {
		return nil, err
	}
	return &jwtGate{verifier: v, userClaim: cfg.UserClaim, tenantClaim: cfg.TenantClaim, roleClaim: cfg.RoleClaim}, nil
}

// claimsAuth is the caller as client.AuthData, under the attribute names principalFromRequest
// reads.
type claimsAuth map[string]any

func (c claimsAuth) GetAttribute(name string) any { return c[name] }

func (c claimsAuth) GetAttributeNames() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	return names
}

// authenticate returns r carrying the caller, or the 401 to answer. The token comes from the
// Authorization header; on the stream endpoint only, browsers may pass it as access_token,
// since neither WebSocket nor EventSource can set a header. Elsewhere a token in the URL would
// end up in access logs and browser history for no reason.
func (g *jwtGate) authenticate(r *http.Request) (*http.Request, *apiError) {
	token, found := bearerToken(r.Header.Get("Authorization"))
	if !found && r.URL.Path == streamPath {
		token = r.URL.Query().Get(paramAccessToken)
		found = token != ""
	}
	if !found {
		return nil, unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
	}
	claims, err := g.verifier.Verify(token)
	if err != nil {
		return nil, unauthenticated("invalid bearer token: " + err.Error())
	}
	auth := claimsAuth{
		userAttributes[0]:   claims[g.userClaim],
		tenantAttributes[0]: claims[g.tenantClaim],
		roleAttributes[0]:   claims[g.roleClaim],
	}
	info := client.FromContext(r.Context())
	info.Auth = auth
	return r.WithContext(client.NewContext(r.Context(), info)), nil
}

func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func unauthenticated(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: codeUnauthenticated, Message: msg}
}

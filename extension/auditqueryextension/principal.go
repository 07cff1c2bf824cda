package auditqueryextension

import (
	"net/http"
	"slices"

	"go.opentelemetry.io/collector/client"
)

// Roles a caller can hold. Anything an authenticator sends that is not "admin" is a viewer: an
// unknown role must never widen what a caller sees.
const (
	roleAdmin  = "admin"
	roleViewer = "viewer"
)

// Attribute names read from client.Info.Auth, the data the configured auth extension attaches.
// The first present name wins.
var (
	userAttributes   = []string{"subject", "user"}
	tenantAttributes = []string{"tenant"}
	roleAttributes   = []string{"role"}
)

// principal is who is asking. Every data endpoint resolves it first and reads only through
// principal.scope, which is where tenant isolation is enforced.
type principal struct {
	User   string
	Tenant string
	Role   string
}

func (p principal) isAdmin() bool { return p.Role == roleAdmin }

// anonymousAdmin is the caller of a server with no auth. Config.checkExposure guarantees such a
// server is bound to loopback or was opened explicitly with allow_unauthenticated.
var anonymousAdmin = principal{User: "anonymous", Role: roleAdmin}

// principalFromRequest returns the caller. With auth configured, confighttp has already run the
// authenticator and put its data in client.Info; a request that reaches us without it cannot be
// trusted with any role, so it is refused rather than defaulted.
func principalFromRequest(r *http.Request, authConfigured bool) (principal, *apiError) {
	if !authConfigured {
		return anonymousAdmin, nil
	}
	auth := client.FromContext(r.Context()).Auth
	if auth == nil {
		return principal{}, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthenticated, Message: "the request carries no authenticated identity"}
	}
	p := principal{
		User:   firstString(auth, userAttributes),
		Tenant: firstString(auth, tenantAttributes),
		Role:   roleViewer,
	}
	for _, name := range roleAttributes {
		if hasValue(auth.GetAttribute(name), roleAdmin) {
			p.Role = roleAdmin
			break
		}
	}
	return p, nil
}

// scope is the tenant a query of p runs against, given the tenant parameter it asked for.
// An admin gets what it asked ("" means every tenant). A viewer always gets its own tenant;
// asking for another is refused openly (403) because the viewer named it, whereas a record of
// another tenant reached by id is answered 404, like one that does not exist.
func (p principal) scope(requested string) (string, *apiError) {
	if p.isAdmin() {
		return requested, nil
	}
	if p.Tenant == "" {
		return "", forbidden("the authenticated caller has no tenant; only an admin may read without one")
	}
	if requested != "" && requested != p.Tenant {
		return "", forbidden("tenant: " + quote(requested) + " is not the caller's tenant")
	}
	return p.Tenant, nil
}

// firstString returns the first non-empty single value among names. A list of several values
// (a caller in two tenants) is ambiguous and yields "", which scope refuses for a viewer.
func firstString(auth client.AuthData, names []string) string {
	for _, name := range names {
		switch v := auth.GetAttribute(name).(type) {
		case string:
			if v != "" {
				return v
			}
		case []string:
			if len(v) == 1 && v[0] != "" {
				return v[0]
			}
		case []any:
			if len(v) == 1 {
				if s, ok := v[0].(string); ok && s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// hasValue accepts the shapes authenticators use for roles: one string, or a list (JWT claims
// decode as []any, header-based ones as []string). The comparison is exact: a role is what
// widens access, so "Admin" or "admin " (which an identity provider may let a user set on
// their own profile) must not pass for "admin".
func hasValue(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case []string:
		return slices.Contains(v, want)
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

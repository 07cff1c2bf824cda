// Package bindguardconverter applies one rule to every network listener of the distribution,
// before any component starts: a receiver or extension that listens beyond loopback must have
// authentication (an `auth:` setting beside its `endpoint`), or say explicitly that it may run
// without (`allow_unauthenticated: true`). Without the rule, a one-word change to an
// endpoint (0.0.0.0) would open an audit trail's intake to anyone on the network, silently.
//
// The converter sees the whole resolved configuration (after ${env:...} expansion). It checks
// the receivers of the service's pipelines and the service's extensions; a listener is any map
// in a component's settings that holds an `endpoint` string (the otlp receiver's
// protocols::grpc and protocols::http, the audit receiver, the query extension...). A
// component without an endpoint listens on its default, which is loopback for every component
// of this distribution.
//
// Components that do not know `allow_unauthenticated` (the core otlp receiver rejects unknown
// keys) get the key removed after it was read; the distribution's own components keep it and
// apply the same rule in their Validate.
package bindguardconverter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// OptOutKey is the setting, beside an endpoint, that allows a non-loopback listener without
// authentication.
const OptOutKey = "allow_unauthenticated"

// ownTypes are component types that have OptOutKey in their own configuration.
var ownTypes = map[string]bool{"audit": true, "auditquery": true}

// NewFactory returns the converter's factory, for builder-config.yaml's converters.
func NewFactory() confmap.ConverterFactory {
	return confmap.NewConverterFactory(func(confmap.ConverterSettings) confmap.Converter { return converter{} })
}

type converter struct{}

// Convert refuses a configuration with an unauthenticated non-loopback listener, naming each,
// and removes OptOutKey where the component would not accept it.
func (converter) Convert(_ context.Context, conf *confmap.Conf) error {
	var problems []string
	var strip []string
	for _, c := range usedListeners(conf.ToStringMap()) {
		for _, l := range c.listeners {
			path := c.kind + "::" + c.id
			if l.path != "" {
				path += "::" + l.path
			}
			if l.optOut && !ownTypes[componentType(c.id)] {
				strip = append(strip, path+"::"+OptOutKey)
			}
			if l.hasAuth || l.optOut || isLoopback(l.endpoint) {
				continue
			}
			problems = append(problems, fmt.Sprintf(
				"%s: endpoint %q listens beyond loopback without authentication: configure auth (an authenticator extension under %s::auth), bind 127.0.0.1, or set %s::%s: true to accept unauthenticated senders",
				path, l.endpoint, path, path, OptOutKey))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New("bindguard: " + strings.Join(problems, "; "))
	}
	for _, key := range strip {
		conf.Delete(key)
	}
	return nil
}

type component struct {
	kind, id  string
	listeners []listener
}

type listener struct {
	path     string // within the component's settings, "::"-separated; "" at the top
	endpoint string
	hasAuth  bool
	optOut   bool
}

// usedListeners lists the listeners of the receivers in service pipelines and of the service's
// extensions: a configured component that is not used does not listen.
func usedListeners(root map[string]any) []component {
	service, _ := root["service"].(map[string]any)
	used := map[string]map[string]bool{"receivers": {}, "extensions": {}}
	if pipelines, ok := service["pipelines"].(map[string]any); ok {
		for _, p := range pipelines {
			pm, _ := p.(map[string]any)
			for _, id := range stringList(pm["receivers"]) {
				used["receivers"][id] = true
			}
		}
	}
	for _, id := range stringList(service["extensions"]) {
		used["extensions"][id] = true
	}
	var out []component
	for _, kind := range []string{"receivers", "extensions"} {
		section, _ := root[kind].(map[string]any)
		for id, cfg := range section {
			if !used[kind][id] {
				continue
			}
			c := component{kind: kind, id: id}
			if m, ok := cfg.(map[string]any); ok {
				findListeners(m, "", &c.listeners, 0)
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind+out[i].id < out[j].kind+out[j].id })
	return out
}

// maxDepth bounds the walk: listener settings sit a few levels down (protocols::grpc).
const maxDepth = 8

func findListeners(m map[string]any, path string, out *[]listener, depth int) {
	if ep, ok := m["endpoint"].(string); ok && m["transport"] != "unix" {
		optOut, _ := m[OptOutKey].(bool)
		// auth: the collector's authenticator extensions; jwt: the query extension's own check.
		hasAuth := m["auth"] != nil || m["jwt"] != nil
		*out = append(*out, listener{path: path, endpoint: ep, hasAuth: hasAuth, optOut: optOut})
	}
	if depth >= maxDepth {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, ok := m[k].(map[string]any); ok {
			p := k
			if path != "" {
				p = path + "::" + k
			}
			findListeners(sub, p, out, depth+1)
		}
	}
}

func stringList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = l
	}
	return out
}

func componentType(id string) string {
	t, _, _ := strings.Cut(id, "/")
	return t
}

// isLoopback reports whether endpoint (host:port, or a bare host) binds only loopback: a
// 127.0.0.0/8 or ::1 address, or localhost. An empty host, 0.0.0.0 and :: listen everywhere;
// any other name may resolve to anything, so it is not loopback.
func isLoopback(endpoint string) bool {
	host := endpoint
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

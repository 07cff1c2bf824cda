package auditexporter

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// movedToAuditStore are the settings that moved from this exporter to the auditstore extension
// when the store became an extension.
var movedToAuditStore = []string{"retention", "tamper_evidence"}

// Unmarshal refuses a configuration written for the exporter that opened its own store, saying
// what to write instead: silently ignoring a retention policy or a signing key would be worse.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	var moved []string
	if _, isMap := conf.Get("store").(map[string]any); isMap {
		moved = append(moved, "store")
	}
	for _, key := range movedToAuditStore {
		if conf.IsSet(key) {
			moved = append(moved, key)
		}
	}
	if len(moved) > 0 {
		return fmt.Errorf("%s moved to the auditstore extension: write them under `extensions: auditstore:` "+
			"(store's backend, sqlite and clickhouse sections at its top level, next to retention and tamper_evidence), "+
			"list auditstore in service.extensions, and write `store: auditstore` in this exporter "+
			"(docs/ARCHITECTURE.md, \"The store is an extension\")", strings.Join(moved, ", "))
	}
	if conf.IsSet("max_queue_size") {
		return fmt.Errorf("max_queue_size: replaced by max_queue_bytes, which bounds the queue's memory rather than its records " +
			"(default 16 MiB; in durable mode records beyond it wait in the write-ahead log, bounded by wal.max_bytes); remove max_queue_size")
	}
	if conf.IsSet("query") {
		return fmt.Errorf("query: no longer needed: the auditquery extension finds the store itself (its own `store: auditstore` setting); remove it")
	}
	return conf.Unmarshal(c)
}

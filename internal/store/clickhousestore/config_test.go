package clickhousestore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestConfig_ValidateNamesTheOffendingField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" when valid
	}{
		{"the default config is valid", func(*Config) {}, ""},
		{"a tcp:// endpoint with more endpoints is valid", func(c *Config) {
			c.Endpoint = "tcp://ch-1:9000"
			c.Endpoints = []string{"ch-2:9000"}
		}, ""},
		{"a per-level ttl is valid", func(c *Config) { c.TTL = map[string]time.Duration{"debug": time.Hour, "security": 0} }, ""},
		{"no endpoint at all is refused", func(c *Config) { c.Endpoint = "" }, "endpoint"},
		{"an endpoint without a port is refused", func(c *Config) { c.Endpoint = "clickhouse.local" }, "endpoint"},
		{"a database name with a dash is refused", func(c *Config) { c.Database = "audit-logs" }, "database"},
		{"a table name with a quote is refused", func(c *Config) { c.Table = "logs`; DROP" }, "table"},
		{"a cluster name with a space is refused", func(c *Config) { c.Cluster = "my cluster" }, "cluster"},
		{"distributed on a cluster is valid", func(c *Config) {
			c.Cluster = "audit_shards"
			c.Distributed = true
		}, ""},
		{"a zookeeper path with a shard macro of its own is valid", func(c *Config) {
			c.Cluster = "audit_shards"
			c.Distributed = true
			c.ZooKeeperPath = "/ch/{audit_shards_shard}/{database}/{table}"
		}, ""},
		{"distributed without a cluster is refused", func(c *Config) { c.Distributed = true }, "distributed needs cluster"},
		{"a zookeeper path without a cluster is refused", func(c *Config) { c.ZooKeeperPath = "/t/{shard}/{database}.{table}" }, "zookeeper_path"},
		{"a zookeeper path without {table} is refused", func(c *Config) {
			c.Cluster = "c"
			c.ZooKeeperPath = "/t/{shard}/{database}"
		}, "must hold {database} and {table}"},
		{"a relative zookeeper path is refused", func(c *Config) {
			c.Cluster = "c"
			c.ZooKeeperPath = "t/{shard}/{database}.{table}"
		}, "absolute"},
		{"a quote in the zookeeper path is refused", func(c *Config) {
			c.Cluster = "c"
			c.ZooKeeperPath = "/t/{shard}'/{database}.{table}"
		}, "without quotes"},
		{"distributed with a zookeeper path the same on every shard is refused", func(c *Config) {
			c.Cluster = "c"
			c.Distributed = true
			c.ZooKeeperPath = "/t/{database}.{table}/{replica}"
		}, "differs between shards"},
		{"a zero dial timeout is refused", func(c *Config) { c.DialTimeout = 0 }, "dial_timeout"},
		{"a zero read timeout is refused", func(c *Config) { c.ReadTimeout = 0 }, "read_timeout"},
		{"a zero connection pool is refused", func(c *Config) { c.MaxOpenConns = 0 }, "max_open_conns"},
		{"an unknown compression is refused", func(c *Config) { c.Compression = "gzip" }, "compression"},
		{"an unknown schema is refused", func(c *Config) { c.Schema = "newest" }, "schema"},
		{"database per tenant is refused with the reason", func(c *Config) { c.Tenancy = "database_per_tenant" }, "tenancy database_per_tenant is not offered"},
		{"an unknown ttl level is refused", func(c *Config) { c.TTL = map[string]time.Duration{"warning": time.Hour} }, "ttl"},
		{"a negative ttl is refused", func(c *Config) { c.TTL = map[string]time.Duration{"info": -time.Hour} }, "ttl"},
		{"a password and a password file together are refused", func(c *Config) {
			c.Password = "x"
			c.PasswordFile = "/run/secrets/ch"
		}, "password_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				assert.NoError(t, err, "Validate()")
			} else {
				assert.ErrorContains(t, err, tc.want, "Validate(), want an error naming %q", tc.want)
			}
		})
	}
}

func TestConfig_AddressesDropSchemesAndBlanks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Endpoint = " clickhouse://a:9000 "
	cfg.Endpoints = []string{"", "tcp://b:9440"}
	assert.Equal(t, "a:9000,b:9440", strings.Join(cfg.addresses(), ","), "addresses()")
}

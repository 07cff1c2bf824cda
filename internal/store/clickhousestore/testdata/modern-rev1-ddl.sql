CREATE DATABASE IF NOT EXISTS `otel`;

CREATE TABLE IF NOT EXISTS `otel`.`audit_logs_schema` (version UInt32, mode String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version;

CREATE TABLE IF NOT EXISTS `otel`.`audit_logs` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceFlags UInt8,
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ObservedTimestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber Int32,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    id String CODEC(ZSTD(1)),
    tenant_id LowCardinality(String),
    level UInt8,
    user_id String CODEC(ZSTD(1)),
    username String CODEC(ZSTD(1)),
    company_id String CODEC(ZSTD(1)),
    employee_id String CODEC(ZSTD(1)),
    actor_id String CODEC(ZSTD(1)),
    entity_id String CODEC(ZSTD(1)),
    entity_type LowCardinality(String),
    ip_address String CODEC(ZSTD(1)),
    user_agent String CODEC(ZSTD(1)),
    geo_country LowCardinality(String),
    geo_city LowCardinality(String),
    method LowCardinality(String),
    path String CODEC(ZSTD(1)),
    status_code Int64,
    duration_ms Float64,
    tags Array(String) CODEC(ZSTD(1)),
    attributes_json String CODEC(ZSTD(1)),
    resource_json String CODEC(ZSTD(1)),
    search_text String CODEC(ZSTD(1)),
    insert_version UInt64,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_actor_id actor_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_entity_id entity_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_ip_address ip_address TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_event EventName TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_search search_text TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree(insert_version)
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (tenant_id, Timestamp, id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `otel`.`audit_logs_chain` (
    tenant_id LowCardinality(String),
    seq UInt64,
    record_id String CODEC(ZSTD(1)),
    timestamp Int64,
    level UInt8,
    record_hash FixedString(32),
    hash FixedString(32),
    INDEX idx_record_id record_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree()
ORDER BY (tenant_id, seq);

CREATE TABLE IF NOT EXISTS `otel`.`audit_logs_checkpoints` (tenant_id String, seq UInt64, time Int64, document String) ENGINE = MergeTree() ORDER BY (tenant_id, seq, time);

CREATE TABLE IF NOT EXISTS `otel`.`audit_logs_chain_start` (started_at Int64) ENGINE = MergeTree() ORDER BY started_at;

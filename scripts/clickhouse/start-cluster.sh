#!/usr/bin/env bash
# Starts a throwaway ClickHouse cluster for the clickhousestore cluster tests: one ZooKeeper
# (Debian's zookeeper package) and two clickhouse-server processes, all on loopback, with every
# file under one directory. remote_servers declares the two servers twice: audit_cluster is one
# shard of two replicas, audit_shards two shards of one replica each (server N is shard sN
# there, in its macro {audit_shards_shard}; {shard} stays 01 for audit_cluster's tables).
# Prints shell assignments:
#
#   eval "$(scripts/clickhouse/start-cluster.sh)"
#     # CLICKHOUSE_CLUSTER_ADDRS=127.0.0.1:P1,127.0.0.1:P2  native ports of server 1 and 2
#     # CLICKHOUSE_CLUSTER_NAME=audit_cluster               one shard, two replicas
#     # CLICKHOUSE_SHARDS_NAME=audit_shards                 two shards, one replica each
#     # CLICKHOUSE_CLUSTER_DIR=...                          where everything lives
#   scripts/clickhouse/stop-cluster.sh                      # stops all three, removes the dir
#
# Environment: CLICKHOUSE_CLUSTER_DIR (default /tmp/otelcol-audit-clickhouse-cluster).
#
# Idempotent: when the three processes of the directory run and both servers answer, it prints
# the assignments again and starts nothing. It installs zookeeper (and clickhouse-server) with
# apt-get only when missing, which needs root. Progress goes to stderr; stdout is only
# assignments, so eval is safe. ZooKeeper's JVM is held to 256 MB of heap.
set -euo pipefail

dir="${CLICKHOUSE_CLUSTER_DIR:-/tmp/otelcol-audit-clickhouse-cluster}"
cluster=audit_cluster
shards=audit_shards
log() { echo "clickhouse/start-cluster.sh: $*" >&2; }

answers() { clickhouse-client --host 127.0.0.1 --port "$1" --query 'SELECT 1' >/dev/null 2>&1; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

print_env() {
	echo "CLICKHOUSE_CLUSTER_ADDRS=127.0.0.1:$(cat "$dir/ch1/port"),127.0.0.1:$(cat "$dir/ch2/port")"
	echo "CLICKHOUSE_CLUSTER_NAME=$cluster"
	echo "CLICKHOUSE_SHARDS_NAME=$shards"
	echo "CLICKHOUSE_CLUSTER_DIR=$dir"
	echo "export CLICKHOUSE_CLUSTER_ADDRS CLICKHOUSE_CLUSTER_NAME CLICKHOUSE_SHARDS_NAME CLICKHOUSE_CLUSTER_DIR"
}

# (A cluster started by an older version of this script, without audit_shards, is restarted.)
if running "$dir/zk/pid" && running "$dir/ch1/pid" && running "$dir/ch2/pid" &&
	grep -q "<$shards>" "$dir/ch1/config.xml" 2>/dev/null &&
	answers "$(cat "$dir/ch1/port")" && answers "$(cat "$dir/ch2/port")"; then
	log "already running (files in $dir)"
	print_env
	exit 0
fi
# Something is half up: stop what remains and start clean.
if [ -d "$dir" ]; then
	CLICKHOUSE_CLUSTER_DIR="$dir" bash "$(dirname "$0")/stop-cluster.sh" >&2
fi

find_server() {
	for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse; do
		[ -x "$b" ] && echo "$b" && return 0
	done
	return 1
}
missing=()
find_server >/dev/null || missing+=(clickhouse-server)
command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
[ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
command -v java >/dev/null || missing+=(default-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		log "missing ${missing[*]}; installing needs root: apt-get install -y ${missing[*]}"
		exit 1
	fi
	log "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
server="$(find_server)"

# free_port sets port to a loopback port nobody listens on that this run has not handed out
# (a variable, not output: a $(...) subshell would forget what was taken).
taken=" "
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 30000))
		case "$taken" in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken="$taken$p "
			port="$p"
			return 0
		fi
	done
	log "no free port found"
	exit 1
}

mkdir -p "$dir/zk/data" "$dir/zk/conf"
free_port
zk_port="$port"
# Standalone ZooKeeper on loopback; the admin HTTP server (8080 on every interface) is off.
# Its warnings go to zk/zookeeper.log (log4j through slf4j-log4j12, both in Debian's Java dir).
cat >"$dir/zk/conf/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
maxClientCnxns=0
autopurge.purgeInterval=0
CFG
cat >"$dir/zk/conf/log4j.properties" <<CFG
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$dir/zk/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d %-5p [%t] %c{1}: %m%n
CFG
log "starting ZooKeeper on 127.0.0.1:$zk_port"
(cd "$dir/zk" && exec java -Xms32m -Xmx256m -XX:+UseSerialGC -Dzookeeper.4lw.commands.whitelist=ruok \
	-Dlog4j.configuration="file:$dir/zk/conf/log4j.properties" \
	-cp "$dir/zk/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
	org.apache.zookeeper.server.ZooKeeperServerMain \
	"$dir/zk/conf/zoo.cfg" >"$dir/zk/stdout.log" 2>&1) &
echo $! >"$dir/zk/pid"
for _ in $(seq 120); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$zk_port") 2>/dev/null; then break; fi
	if ! running "$dir/zk/pid"; then
		log "ZooKeeper exited:"
		tail -n 30 "$dir/zk/stdout.log" "$dir/zk/zookeeper.log" >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.25
done

# Both replicas' native ports first: each server's remote_servers names both.
free_port
p1="$port"
free_port
p2="$port"
free_port
i1="$port"
free_port
i2="$port"

# server N TCP INTERSERVER writes server N's config. audit_cluster has one shard of two
# replicas; internal_replication lets the Replicated tables copy rows between them.
# audit_shards has the same two servers as two shards: a table replicated at a path with
# {audit_shards_shard} is a different table on each (the store's zookeeper_path setting).
write_config() {
	local n="$1" port="$2" inter="$3" d="$dir/ch$1"
	mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
	echo "$port" >"$d/port"
	cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/clickhouse-server.log</log>
        <errorlog>$d/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <interserver_http_port>$inter</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>134217728</mark_cache_size>
    <uncompressed_cache_size>134217728</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$zk_port</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <remote_servers>
        <$cluster>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$p1</port></replica>
                <replica><host>127.0.0.1</host><port>$p2</port></replica>
            </shard>
        </$cluster>
        <$shards>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$p1</port></replica>
            </shard>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$p2</port></replica>
            </shard>
        </$shards>
    </remote_servers>
    <macros>
        <shard>01</shard>
        <audit_shards_shard>s$n</audit_shards_shard>
        <replica>r$n</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
XML
	cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>1000000000</max_memory_usage>
            <!-- ON CLUSTER waits this long for every replica before it answers. -->
            <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}
write_config 1 "$p1" "$i1"
write_config 2 "$p2" "$i2"

for n in 1 2; do
	d="$dir/ch$n"
	log "starting replica r$n on 127.0.0.1:$(cat "$d/port")"
	(cd "$d" && exec "$server" --config-file="$d/config.xml" >"$d/log/stdout.log" 2>&1) &
	echo $! >"$d/pid"
done

for n in 1 2; do
	d="$dir/ch$n"
	ok=""
	for _ in $(seq 120); do
		if answers "$(cat "$d/port")"; then
			ok=1
			break
		fi
		if ! running "$d/pid"; then break; fi
		sleep 0.5
	done
	if [ -z "$ok" ]; then
		log "replica r$n did not come up; its logs:"
		tail -n 30 "$d/log/stdout.log" "$d/log/clickhouse-server.err.log" >&2 2>/dev/null || true
		exit 1
	fi
done
log "ready: $(clickhouse-client --host 127.0.0.1 --port "$p1" --query 'SELECT version()'), clusters $cluster and $shards"
print_env

#!/usr/bin/env bash
# Starts a throwaway clickhouse-server for the clickhousestore tests, on loopback only, with all
# of its files under one directory, and prints CLICKHOUSE_ADDR=127.0.0.1:PORT for the caller.
#
#   eval "$(scripts/clickhouse/start.sh)"     # exports CLICKHOUSE_ADDR (and CLICKHOUSE_DIR)
#   scripts/clickhouse/stop.sh                # stops it and removes the directory
#
# Environment:
#   CLICKHOUSE_DIR   where config, data, logs and the pid file go (default /tmp/otelcol-audit-clickhouse)
#   CLICKHOUSE_PORT  native TCP port (default: a free port chosen here)
#
# Idempotent: when the server of CLICKHOUSE_DIR is already running and answering, it prints its
# address again and starts nothing. Installing the server (Debian's clickhouse-server, 18.16
# here) needs root; the script does it only when no server binary is present. Everything it
# prints on stdout is shell assignments, so `eval` is safe; progress goes to stderr.
set -euo pipefail

dir="${CLICKHOUSE_DIR:-/tmp/otelcol-audit-clickhouse}"
log() { echo "clickhouse/start.sh: $*" >&2; }

find_server() {
	for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse; do
		if [ -x "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# answers PORT: true when a server on 127.0.0.1:PORT runs a query.
answers() {
	clickhouse-client --host 127.0.0.1 --port "$1" --query 'SELECT 1' >/dev/null 2>&1
}

print_env() {
	echo "CLICKHOUSE_ADDR=127.0.0.1:$1"
	echo "CLICKHOUSE_DIR=$dir"
	echo "export CLICKHOUSE_ADDR CLICKHOUSE_DIR"
}

if [ -f "$dir/pid" ] && [ -f "$dir/port" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
	port="$(cat "$dir/port")"
	if answers "$port"; then
		log "already running (pid $(cat "$dir/pid"), port $port)"
		print_env "$port"
		exit 0
	fi
fi

server="$(find_server || true)"
if [ -z "$server" ] || ! command -v clickhouse-client >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		log "clickhouse-server is not installed and installing it needs root: apt-get install -y clickhouse-server clickhouse-client"
		exit 1
	fi
	log "installing clickhouse-server with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq clickhouse-server clickhouse-client >&2
	server="$(find_server)"
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return 0
	# Without python3: pick a random high port nobody listens on.
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
port="${CLICKHOUSE_PORT:-$(free_port)}"

mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
# A minimal config: native protocol on loopback only, no HTTP, no interserver port, every path
# inside $dir. The default user has no password and may connect from loopback only.
cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
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

log "starting $server on 127.0.0.1:$port (files in $dir)"
(cd "$dir" && exec "$server" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1) &
echo $! >"$dir/pid"
echo "$port" >"$dir/port"

for _ in $(seq 120); do
	if answers "$port"; then
		log "ready: $(clickhouse-client --host 127.0.0.1 --port "$port" --query 'SELECT version()')"
		print_env "$port"
		exit 0
	fi
	if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		log "the server exited; its logs:"
		tail -n 30 "$dir/log/stdout.log" "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.5
done
log "the server did not answer within 60s"
tail -n 30 "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
exit 1

#!/usr/bin/env bash
# Installs the npm packages of chdb/ (chdb and its embedded ClickHouse engine,
# @chdb/lib-linux-x64-gnu) from chdb/package-lock.json, for the modern-SQL check of
# internal/store/clickhousestore (TestModernStatements_RunOnCurrentClickHouse, through Node) and
# for its store suites on the modern layout (make test-chdb: the Go tests load
# node_modules/@chdb/lib-linux-x64-gnu/libchdb.so in-process through chdb-go).
# Needs node and npm. Idempotent: does nothing when the locked versions are installed.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/chdb"
if ! command -v npm >/dev/null; then
	echo "clickhouse/install-chdb.sh: npm is required (Debian: apt-get install -y nodejs npm)" >&2
	exit 1
fi
want="$(node -p 'require("./package-lock.json").packages["node_modules/chdb"].version')"
have="$(node -p 'try { require("./node_modules/chdb/package.json").version } catch { "" }')"
if [ "$want" = "$have" ] && [ -d node_modules/@chdb/lib-linux-x64-gnu ]; then
	echo "clickhouse/install-chdb.sh: chdb $have already installed" >&2
	exit 0
fi
# Not `npm ci`: npm records chdb's optional per-platform engine packages inconsistently in the
# lock file it writes itself, and `npm ci` then refuses the lock. `npm install --no-save`
# installs the locked versions without rewriting package.json or the lock.
npm install --no-audit --no-fund --no-save >&2
echo "clickhouse/install-chdb.sh: installed chdb $(node -p 'require("./node_modules/chdb/package.json").version')" >&2

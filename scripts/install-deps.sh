#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine. Idempotent: safe to run again.
# Go tools (ocb, staticcheck) are installed by the Makefile into .tools/ with `go install`.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is required (expected at /usr/local/go/bin/go)" >&2
  exit 1
fi
go version

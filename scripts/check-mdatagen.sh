#!/usr/bin/env bash
# Usage: scripts/check-mdatagen.sh MDATAGEN SCRATCH METADATA_YAML...
# Fails, naming each file, when a component's files differ from what mdatagen generates from its
# metadata.yaml. mdatagen runs in SCRATCH, a fresh copy of the work tree as it is (uncommitted
# edits included), so the check never writes to the tree; the copy keeps the module layout, so
# the generated import paths and scope names are the real ones. mdatagen writes only generated
# files, so any difference between a component directory and its regenerated copy is a stale,
# missing or no-longer-generated file.
set -euo pipefail
mdatagen=$1 scratch=$2
shift 2

rm -rf "$scratch"
mkdir -p "$scratch"
tar -cf - --exclude=./.git --exclude=./.tools --exclude=./bin --exclude=./data --exclude=./testbed \
  --exclude=node_modules . | tar -xf - -C "$scratch"

stale=0
for y in "$@"; do
  y=${y#./}
  (cd "$scratch" && "$mdatagen" "$y") || { echo "mdatagen failed on $y"; exit 1; }
  d=$(dirname "$y")
  while IFS= read -r line; do
    stale=1
    case "$line" in
      "Files "*" differ")
        f=${line#Files }; f=${f%% and *}
        echo "$f is stale: run 'make generate' and commit" ;;
      "Only in $scratch/"*)
        rest=${line#"Only in $scratch/"}
        echo "${rest%%: *}/${rest#*: } is missing: run 'make generate' and commit" ;;
      "Only in "*)
        rest=${line#Only in }
        echo "${rest%%: *}/${rest#*: } is not generated from $y: delete it or run 'make generate'" ;;
      *) echo "$line" ;;
    esac
  done < <(diff -rq "$d" "$scratch/$d" || true)
done
[ "$stale" = 0 ] && rm -rf "$scratch"
exit "$stale"

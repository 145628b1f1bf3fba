#!/usr/bin/env bash
# Benchmarks of aliaslease on the real engine (method: test/bench/README.md;
# results: docs/bench/results.md). Needs a Docker engine (test/docker-up.sh),
# curl and gnuplot; as root on Debian the missing ones are installed.
#
# Usage: test/bench/run.sh [-runs N] [-only cli,floor,burst,gc,big,go] [...]
#        (all flags: go run ./test/bench -h)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/docker-up.sh >&2
need=()
command -v curl >/dev/null || need+=(curl)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "bench: please install ${need[*]}" >&2; exit 1
  fi
fi
exec go run ./test/bench "$@"

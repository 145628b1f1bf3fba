#!/usr/bin/env bash
# Benchmarks side by side with the docker-CLI allocator (docs/benchmarks.md).
# Needs a Docker engine (test/docker-up.sh), curl and gnuplot; as root on
# Debian the missing ones are installed. Usage: test/bench/run.sh [-runs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/docker-up.sh
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
go run ./test/bench "$@"
echo
echo "== Go benchmarks (store and classify)"
go test -run XXX -bench . -benchtime 200x ./lease | tee docs/bench/go-bench.txt

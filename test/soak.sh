#!/usr/bin/env bash
# Long reliability soak: the multi-process suites scaled up, then each fuzz
# target for a while. Usage: test/soak.sh [MINUTES_PER_FUZZ_TARGET]
# Prints the suites' own counts (processes, kills, rounds); see
# docs/reliability.md for what each case proves.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_minutes=${1:-2}

export ALIASLEASE_ROUNDS=${ALIASLEASE_ROUNDS:-30}
export ALIASLEASE_CHURN_ROUNDS=${ALIASLEASE_CHURN_ROUNDS:-60}
export ALIASLEASE_CHURN_OPS=${ALIASLEASE_CHURN_OPS:-40}

echo "== multi-process soak (rounds $ALIASLEASE_ROUNDS, churn rounds $ALIASLEASE_CHURN_ROUNDS x $ALIASLEASE_CHURN_OPS ops x 6 workers)"
start=$(date +%s)
go test -count=1 -v -timeout 60m -run 'TestConcurrent|TestChurnWithKills|TestCrash' ./test 2>&1 |
  grep -E '^(=== RUN|--- |    [a-z_]+_test.go|ok|FAIL|PASS)' | grep -v '^=== RUN'
echo "multi-process soak took $(( $(date +%s) - start )) s"

for target in lease:FuzzOpen lease:FuzzParsePool lease:FuzzValidateSlug netif:FuzzParseIfconfig internal/dockerinv:FuzzEngineAnswers internal/dockerinv:FuzzResolveContext; do
  pkg=${target%%:*}; fn=${target##*:}
  echo "== fuzz $fn for ${fuzz_minutes}m"
  go test -run XXX -fuzz "^$fn\$" -fuzztime "${fuzz_minutes}m" -fuzzminimizetime 5s "./$pkg" 2>&1 | tail -3
done
echo "== power cuts (${ALIASLEASE_POWERCUTS:=1000} random cuts on the FUSE simulator, plus the cut at every sync call)"; ALIASLEASE_POWERCUTS=$ALIASLEASE_POWERCUTS go test -count=1 -v -timeout 60m -run 'TestPowerCuts$|TestPowerCutSequences' ./test 2>&1 | grep -E '^(--- |    [a-z_]+_test.go|ok|FAIL|PASS)'

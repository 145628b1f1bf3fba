#!/bin/sh
# The approach aliaslease replaces (shared/reference/loopback_alias.py),
# in shell: list the bundle containers by name with the docker CLI, then
# one docker inspect per container for its port bindings, and print the
# lowest pool alias that none of them uses.
set -eu
prefix=${BOTTLE_PREFIX:-claude-bottle-sidecars-}
used=""
for name in $(docker ps --format '{{.Names}}' --filter "name=$prefix"); do
  used="$used $(docker inspect "$name" --format '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}} {{end}}{{end}}')"
done
i=16
while [ "$i" -le 31 ]; do
  case " $used " in
    *" 127.0.0.$i "*) ;;
    *) echo "127.0.0.$i"; exit 0 ;;
  esac
  i=$((i + 1))
done
echo "pool exhausted" >&2
exit 3

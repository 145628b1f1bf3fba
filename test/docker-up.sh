#!/usr/bin/env bash
# Make a Docker engine answer on /var/run/docker.sock for the integration
# tests: install docker.io where missing (Debian, as root), start dockerd in
# the background, and wait for the socket to answer. Idempotent.
set -euo pipefail

sock=/var/run/docker.sock
answering() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answering; then
  echo "docker-up: engine already answering ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker-up: no engine answers and this is not root; start Docker yourself" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
log=${DOCKERD_LOG:-/tmp/dockerd.log}
echo "docker-up: starting dockerd (log: $log)"
# A session of its own: an engine others share must not end with the
# process group of whoever happened to start it.
setsid nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 120); do
  if [ -S "$sock" ] && answering; then
    echo "docker-up: engine answering ($(docker version --format '{{.Server.Version}}'), API $(docker version --format '{{.Server.APIVersion}}'))"
    exit 0
  fi
  sleep 0.5
done
echo "docker-up: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1

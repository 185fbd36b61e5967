#!/usr/bin/env bash
# Installs the system packages the local stack needs (Debian 12, as root):
# PostgreSQL 15 server binaries, nginx, Java 17 and Maven (Kafka's jars come through Maven), and
# Node.js with npm (the AsyncAPI parser that checks the partner contract).
# Idempotent: when everything is present it only checks, in well under a second.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
# pg_config alone may come from libpq-dev; the server is there when initdb is.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    missing+=(postgresql-15)
fi
if ! have nginx && ! [ -x /usr/sbin/nginx ]; then
    missing+=(nginx)
fi
if ! have java; then
    missing+=(openjdk-17-jre-headless)
fi
if ! have mvn; then
    missing+=(maven)
fi
# Node runs the official AsyncAPI parser that validates the partner contract in the tests.
if ! have node; then
    missing+=(nodejs)
fi
if ! have npm; then
    missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

packages=()
for p in "${missing[@]}"; do
    # The small nginx build is enough (proxy, map, limit_req); newer Debian dropped it.
    if [ "$p" = nginx ] && apt-cache show nginx-light >/dev/null 2>&1; then
        p=nginx-light
    fi
    packages+=("$p")
done
echo "bootstrap: installing ${packages[*]}" >&2

# Exit code 101 from policy-rc.d keeps apt from starting the system-wide postgres and nginx
# services: we run our own instances, on our own ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "bootstrap: done" >&2

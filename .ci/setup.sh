#!/usr/bin/env bash
# Prepare a machine for the repository's tests and load tests:
# a virtual environment with the project's test dependencies, PostgreSQL and Redis running
# on 127.0.0.1, and Chromium for the offline docs rendering test.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# pip's own chatter goes to a log, shown only when an install fails.
pip_log=$(mktemp)
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
       .venv/bin/python -m pip install -q -e ".[test]"; } >"$pip_log" 2>&1; then
    cat "$pip_log" >&2
    exit 1
fi
rm -f "$pip_log"

if [ "${SKIP_SERVICES:-0}" != "1" ]; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    command -v redis-server >/dev/null || apt_install redis-server redis-tools
    command -v nginx >/dev/null || apt_install nginx
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        for version in /etc/postgresql/*; do
            $SUDO pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start
        done
    fi
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
        sleep 1
    done
fi

if [ "${SKIP_BROWSER:-0}" != "1" ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi

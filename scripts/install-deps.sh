#!/usr/bin/env bash
# Installs the Debian packages pgsql-ra's build, tests and lab need (idempotent).
set -euo pipefail
# debhelper, lintian, xsltproc, git and man-db: the Debian package (scripts/build-deb.sh).
# libssl-dev, pkg-config: TLS for the agent's connections (postgres-openssl).
PKGS="libssl-dev pkg-config postgresql-15 postgresql-client-15 libxml2-utils resource-agents resource-agents-paf pacemaker pacemaker-cli-utils corosync crmsh pcs rsyslog tini strace procps psmisc iproute2 bc python3 debhelper lintian xsltproc git man-db bzip2"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS
fi
# Debian's postgresql package creates a default cluster; it must never run here.
if [ -f /etc/postgresql/15/main/start.conf ]; then
  echo manual > /etc/postgresql/15/main/start.conf
  pg_ctlcluster 15 main stop 2>/dev/null || true
fi
# scripts/fetch-postgres.sh downloads PostgreSQL majors other than 15 with npm.
if ! command -v npm >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required" >&2; exit 1; }

#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres, pg_ctl, pg_dump, …)
# are available for pgferry's tests, installing Debian/Ubuntu's `postgresql`
# package if they are not. Idempotent: does nothing when they are found.
#
# Search order (same as crates/testkit): $PGFERRY_PG_BIN; `pg_config --bindir`
# if it contains initdb; the newest /usr/lib/postgresql/<major>/bin.
#
# When running as root (CI containers) it also makes sure the `postgres` OS
# user exists: initdb/postgres refuse to run as root, so the testkit runs them
# as `postgres` via runuser.
set -euo pipefail

log() { printf 'install-postgres: %s\n' "$*"; }
die() { printf 'install-postgres: ERROR: %s\n' "$*" >&2; exit 1; }

find_bin_dir() {
    if [[ -n "${PGFERRY_PG_BIN:-}" ]]; then
        [[ -x "$PGFERRY_PG_BIN/initdb" ]] || return 2
        printf '%s\n' "$PGFERRY_PG_BIN"
        return 0
    fi
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$d" && -x "$d/initdb" ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    if [[ -d /usr/lib/postgresql ]]; then
        for d in $(ls -1 /usr/lib/postgresql | grep -E '^[0-9]+$' | sort -rn); do
            if [[ -x "/usr/lib/postgresql/$d/bin/initdb" ]]; then
                printf '%s\n' "/usr/lib/postgresql/$d/bin"
                return 0
            fi
        done
    fi
    return 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (not root and no sudo)"
    fi
}

rc=0
bin_dir="$(find_bin_dir)" || rc=$?
if [[ $rc == 2 ]]; then
    die "PGFERRY_PG_BIN=$PGFERRY_PG_BIN does not contain initdb; fix or unset it"
fi

if [[ $rc == 0 ]]; then
    log "found PostgreSQL server binaries in $bin_dir; nothing to install"
else
    log "no PostgreSQL server binaries found (looked at \$PGFERRY_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin)"
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not available; install the PostgreSQL server for your system and set PGFERRY_PG_BIN=/path/to/bin"
    export DEBIAN_FRONTEND=noninteractive
    log "running: apt-get update"
    as_root apt-get update
    packages=(postgresql)
    # On some distributions/versions contrib (citext, hstore, pg_trgm, … used by
    # fixtures/schema.sql) is a separate package; on Debian 12 it is part of
    # postgresql-NN and postgresql-contrib is only a dependency shim.
    if apt-cache show postgresql-contrib >/dev/null 2>&1; then
        packages+=(postgresql-contrib)
    fi
    log "running: apt-get install -y --no-install-recommends ${packages[*]}"
    as_root apt-get install -y --no-install-recommends "${packages[@]}"
    bin_dir="$(find_bin_dir)" || die "installed ${packages[*]} but still cannot find initdb"
    log "installed PostgreSQL server binaries in $bin_dir"
fi

if is_root; then
    if id -u postgres >/dev/null 2>&1; then
        log "OS user postgres exists (tests running as root run the server as postgres)"
    else
        log "running: useradd --system --user-group --no-create-home --shell /bin/sh postgres"
        useradd --system --user-group --no-create-home --shell /bin/sh postgres
    fi
    command -v runuser >/dev/null 2>&1 || command -v su >/dev/null 2>&1 \
        || die "neither runuser nor su is available to run the server as postgres"
fi

log "$("$bin_dir/postgres" --version)"

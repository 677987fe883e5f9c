#!/usr/bin/env bash
# Installs what the real-editor tests need, idempotently (DESIGN.md, "Testing"):
#   - Debian chromium (driven by playwright-core), ripgrep, libkrb5-dev (code-server's kerberos
#     module builds from source);
#   - code-server 4.100.3 (VS Code 1.100.3, the last release for Node 20) into .e2e/code-server,
#     outside the project's node_modules so that a plain `npm install` stays lean.
# Re-running it when everything is present does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CS_VERSION=4.100.3
CS_DIR="$ROOT/.e2e/code-server"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"

log() { echo "[e2e setup] $*"; }

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        log "missing ${need_apt[*]} and no apt-get: install them by hand"; exit 1
    fi
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    log "apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

installed_version() {
    [ -f "$CS_DIR/node_modules/code-server/package.json" ] || return 0
    node -p "require('$CS_DIR/node_modules/code-server/package.json').version" 2>/dev/null || true
}

if [ -x "$CS_BIN" ] && [ "$(installed_version)" = "$CS_VERSION" ] \
    && [ -d "$CS_DIR/node_modules/code-server/lib/vscode/node_modules" ]; then
    log "code-server $CS_VERSION already installed in .e2e/code-server"
else
    # code-server's nested install of VS Code fetches ripgrep from GitHub at postinstall; there is
    # no internet here, so pre-seed @vscode/ripgrep's download cache with Debian's rg.
    TMP="${TMPDIR:-/tmp}"
    RG_CACHE="$TMP/vscode-ripgrep-cache-1.15.11"
    RG_TAR="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
    if [ ! -s "$RG_TAR" ]; then
        log "seeding ripgrep cache $RG_TAR"
        mkdir -p "$RG_CACHE"
        staging=$(mktemp -d)
        cp "$(command -v rg)" "$staging/rg"
        tar -czf "$RG_TAR" -C "$staging" rg
        rm -rf "$staging"
    fi
    log "installing code-server $CS_VERSION into .e2e/code-server (about a minute)"
    mkdir -p "$CS_DIR"
    [ -f "$CS_DIR/package.json" ] || echo '{ "name": "mismatch-e2e-code-server", "private": true }' > "$CS_DIR/package.json"
    # npm 11 blocks install scripts by default; the postinstall exits as root without unsafe-perm;
    # node-pty's `npx node-gyp` needs `yes`.
    (cd "$CS_DIR" && npm_config_dangerously_allow_all_scripts=true npm_config_unsafe_perm=true \
        npm_config_yes=true npm i -E --no-audit --no-fund "code-server@$CS_VERSION")
fi

log "code-server $(installed_version) ready: $CS_BIN"
chromium --version 2>/dev/null | sed 's/^/[e2e setup] /' || true

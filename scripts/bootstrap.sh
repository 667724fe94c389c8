#!/usr/bin/env bash
# Installs what ferry's tests and demo need on a fresh Debian machine with Node 20 and npm.
# Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bootstrap: $*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $* (install these Debian packages by hand: $DEB_MISSING)"; exit 1
  fi
}

DEB_MISSING=""
command -v nats-server >/dev/null || DEB_MISSING+=" nats-server"
command -v go >/dev/null || DEB_MISSING+=" golang-go"
[ -d /usr/share/gocode/src/github.com/vmware/govmomi/vapi/simulator ] || DEB_MISSING+=" golang-github-vmware-govmomi-dev"
command -v openssl >/dev/null || DEB_MISSING+=" openssl"
command -v tmux >/dev/null || DEB_MISSING+=" tmux"
command -v curl >/dev/null || DEB_MISSING+=" curl"
command -v rclone >/dev/null || DEB_MISSING+=" rclone"
command -v chromium >/dev/null || DEB_MISSING+=" chromium"
# systemd-analyze for test/deploy/systemd.test.ts. Safe in a container: Debian's `systemd` package
# does not replace /sbin/init (that is systemd-sysv) and starts nothing when systemd is not PID 1.
command -v systemd-analyze >/dev/null || DEB_MISSING+=" systemd"
if [ -n "$DEB_MISSING" ]; then
  say "installing Debian packages:$DEB_MISSING"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $DEB_MISSING >/dev/null
fi

if ! command -v pnpm >/dev/null; then
  say "installing pnpm 10"
  npm i -g pnpm@10 --silent >/dev/null 2>&1 || as_root npm i -g pnpm@10 --silent >/dev/null
fi

# pnpm is quick when node_modules is already in sync with the lockfile.
pnpm install --frozen-lockfile --reporter=silent

# TypeScript build (incremental: nothing to do when up to date).
pnpm exec tsc -b

# vcsim: the vCenter simulator of govmomi, built offline from Debian's source package.
if [ ! -x test/vcsim/vcsim ] || [ test/vcsim/main.go -nt test/vcsim/vcsim ]; then
  say "building vcsim (about 15 s)"
  (cd test/vcsim && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="${GOCACHE:-$HOME/.cache/go-build}" go build -o vcsim .)
fi

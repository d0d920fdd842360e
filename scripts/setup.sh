#!/usr/bin/env bash
# One-time (and idempotent) setup for a Debian 12 machine, run as root:
#  - the system packages headless Dawn needs (GLES on llvmpipe; Vulkan on lavapipe from bookworm-backports),
#  - a pinned pnpm,
#  - the workspace's dependencies from the lockfile.
# Quick when everything is already in place: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=9.15.9
log() { printf '[setup] %s\n' "$*"; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- system packages -----------------------------------------------------------------------------
if command -v apt-get >/dev/null 2>&1; then
  gles_pkgs=(libegl1 libgl1-mesa-dri libegl-dev)
  missing=()
  for p in "${gles_pkgs[@]}" libvulkan1; do have_pkg "$p" || missing+=("$p"); done
  # Dawn rejects bookworm's lavapipe (Mesa 22); the one from bookworm-backports (Mesa 25) works.
  lavapipe_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  need_backports=0
  case "$lavapipe_version" in 2[5-9].*) ;; *) need_backports=1 ;; esac
  if [ ${#missing[@]} -gt 0 ] || [ $need_backports -eq 1 ]; then
    if [ $need_backports -eq 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding the bookworm-backports suite to apt's sources"
      uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $2}')
      [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
      [ -n "$uri" ] || uri=http://deb.debian.org/debian
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" | as_root tee /etc/apt/sources.list.d/reprise-backports.sources >/dev/null
    fi
    log "installing system packages for headless Dawn"
    as_root apt-get update -qq
    # Only lavapipe comes from backports: upgrading GL Mesa too makes the GLES path slower (RUNTIME.md).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${gles_pkgs[@]}" libvulkan1 mesa-vulkan-drivers/bookworm-backports >/dev/null
  fi
else
  log "apt-get not found: install EGL/Mesa (llvmpipe) and a Vulkan loader with lavapipe >= 25 yourself"
fi

# --- pnpm ----------------------------------------------------------------------------------------
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  log "installing pnpm $PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi

# --- dependencies --------------------------------------------------------------------------------
pnpm install --frozen-lockfile --prefer-offline --reporter=silent
log "ready"

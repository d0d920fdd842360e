#!/usr/bin/env bash
# One-time (and idempotent) setup for a Debian 12 machine, run as root:
#  - the system packages headless Dawn needs (GLES on llvmpipe; Vulkan on lavapipe from bookworm-backports),
#  - a pinned pnpm,
#  - the workspace's dependencies from the lockfile,
#  - with --with-torch, Debian's PyTorch (python3-torch) on OpenBLAS (libopenblas0-pthread) for the PyTorch
#    peer of `pnpm bench` (Debian's default reference BLAS makes PyTorch about 30x slower at matmul).
# Quick when everything is already in place: every step checks before it acts. A failing step says which
# step, which command, and what to do.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/apt-sources.sh
source scripts/lib/apt-sources.sh

PNPM_VERSION=9.15.9
with_torch=false
for arg in "$@"; do
  case "$arg" in
    --with-torch) with_torch=true ;;
    *) printf 'usage: scripts/setup.sh [--with-torch]\n  unknown option: %s\n' "$arg" >&2; exit 2 ;;
  esac
done
APT_DIR=${REPRISE_APT_DIR:-/etc/apt}
step="starting"
hint=""
log() { printf '[setup] %s\n' "$*"; }
on_error() {
  local code=$1 command=$2
  printf '[setup] FAILED while %s (exit %s)\n[setup]   command: %s\n' "$step" "$code" "$command" >&2
  [ -z "$hint" ] || printf '[setup]   what to do: %s\n' "$hint" >&2
  exit "$code"
}
trap 'on_error $? "$BASH_COMMAND"' ERR
begin() { step=$1; hint=$2; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- system packages -----------------------------------------------------------------------------
if command -v apt-get >/dev/null 2>&1; then
  begin "checking the installed system packages" "run as root on Debian 12 (bookworm)"
  gles_pkgs=(libegl1 libgl1-mesa-dri libegl-dev)
  missing=()
  for p in "${gles_pkgs[@]}" libvulkan1; do have_pkg "$p" || missing+=("$p"); done
  # shellcheck disable=SC1091
  codename=$( (. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}") 2>/dev/null || true)
  # Dawn rejects bookworm's lavapipe (Mesa 22); the one from bookworm-backports (Mesa 25) works.
  lavapipe_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  lavapipe=mesa-vulkan-drivers
  case "$lavapipe_version" in 2[5-9].* | [3-9][0-9].*) lavapipe="" ;; esac
  if [ -n "$lavapipe" ] && [ "$codename" = bookworm ]; then
    lavapipe=mesa-vulkan-drivers/bookworm-backports
    if ! apt_has_suite "$APT_DIR" bookworm-backports; then
      begin "adding the bookworm-backports suite to apt's sources" \
        "add 'deb http://deb.debian.org/debian bookworm-backports main' to /etc/apt/sources.list yourself, then rerun"
      mirror=$(apt_debian_mirror "$APT_DIR" bookworm)
      log "adding the bookworm-backports suite ($mirror) to apt's sources"
      apt_suite_stanza "$mirror" bookworm-backports | as_root tee "$APT_DIR/sources.list.d/reprise-backports.sources" >/dev/null
    fi
  fi
  if [ ${#missing[@]} -gt 0 ] || [ -n "$lavapipe" ]; then
    begin "updating apt's package lists" "check the network and the mirrors in $APT_DIR/sources.list*, then rerun"
    log "installing system packages for headless Dawn: ${missing[*]} $lavapipe"
    as_root apt-get update -qq
    begin "installing the system packages for headless Dawn" \
      "run 'apt-get install ${gles_pkgs[*]} libvulkan1 $lavapipe' to see apt's own message, then rerun"
    # Only lavapipe comes from backports: upgrading GL Mesa too makes the GLES path slower (docs/runtime.md).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${gles_pkgs[@]}" libvulkan1 ${lavapipe:+"$lavapipe"} >/dev/null
  fi
else
  log "apt-get not found: install EGL/Mesa (llvmpipe) and a Vulkan loader with lavapipe >= 25 yourself"
fi

# --- PyTorch for the bench's PyTorch peer (--with-torch) -----------------------------------------
if $with_torch; then
  begin "checking for PyTorch" "run as root on Debian 12 (bookworm)"
  if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && have_pkg libopenblas0-pthread; then
    log "PyTorch already imports in /usr/bin/python3"
  else
    command -v apt-get >/dev/null 2>&1 || {
      hint="install PyTorch for /usr/bin/python3 yourself, or point REPRISE_TORCH_PYTHON at a python that has it"
      false
    }
    begin "updating apt's package lists" "check the network and the mirrors in $APT_DIR/sources.list*, then rerun"
    log "installing python3-torch and libopenblas0-pthread"
    as_root apt-get update -qq
    begin "installing python3-torch and libopenblas0-pthread" \
      "run 'apt-get install python3-torch libopenblas0-pthread' to see apt's own message, then rerun"
    # OpenBLAS becomes libblas.so.3 through update-alternatives (its priority beats the reference BLAS).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-torch libopenblas0-pthread >/dev/null
  fi
fi

# --- pnpm ----------------------------------------------------------------------------------------
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  begin "installing pnpm $PNPM_VERSION with npm" "check that node >= 20 and npm are installed and the npm registry is reachable"
  log "installing pnpm $PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi

# --- dependencies --------------------------------------------------------------------------------
begin "installing the locked dependencies with pnpm" "run 'pnpm install --frozen-lockfile' to see pnpm's own message"
pnpm install --frozen-lockfile --prefer-offline --reporter=silent
log "ready"

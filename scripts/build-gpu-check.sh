#!/usr/bin/env bash
# Packs the GPU check for a machine without Node or a registry (docs/gpu.md): one esbuild bundle,
# the node binary and the linux-x64 dawn.node, xz-compressed, plus the Vulkan loader .debs, into .gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu/dist/linux-x64 .gpu/debs
webgpu_dir=$(node -e "console.log(require('path').dirname(require.resolve('webgpu/package.json', {paths: ['packages/kernels']})))")
npx esbuild benchmarks/src/gpu-check.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile=.gpu/check.mjs --log-level=warning
# webgpu's index.js finds dawn.node next to itself: put it beside the bundle.
[ -f .gpu/dist/linux-x64/dawn.node.xz ] || xz -6 -c "$webgpu_dir/dist/linux-x64/dawn.node" > .gpu/dist/linux-x64/dawn.node.xz
[ -f .gpu/node.xz ] || xz -6 -c "$(command -v node)" > .gpu/node.xz
if [ -z "$(ls .gpu/debs)" ]; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq && (cd .gpu/debs && apt-get $o download libvulkan1 >/dev/null)
fi
du -sh .gpu

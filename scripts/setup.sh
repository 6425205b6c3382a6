#!/usr/bin/env bash
# One-time, idempotent setup on Debian/Ubuntu: system packages, npm packages, the native addon,
# and a check that matmul runs on OpenBLAS. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# libtorch (engine), OpenBLAS (fast matmul: Debian's reference BLAS is ~50x slower), ffmpeg (video I/O),
# g++ for the addon, libgloo-dev for multi-process training (gloo backend).
packages=(libtorch-dev libopenblas0-pthread ffmpeg g++ libgloo-dev)
packages+=(redis-server chromium) # `stable-animator serve`: its job queue (BullMQ on Redis) and its browser test
[ -n "${SETUP_EXTRA_PACKAGES:-}" ] && packages+=(${SETUP_EXTRA_PACKAGES})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ -n "${LIBTORCH:-}" ]; then
  missing=("${missing[@]/libtorch-dev}")
fi
missing=(${missing[@]+"${missing[@]}"})
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages; run as root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

node scripts/build-native.mjs

node --import tsx -e "
import('./src/torch/index.ts').then(({ engineInfo }) => {
  const i = engineInfo();
  console.log('setup: libtorch ' + i.torchVersion + ', ' + i.threads + ' threads, BLAS ' + i.blasLibrary + (i.cudaAvailable ? ', CUDA x' + i.cudaDeviceCount : ''));
  if (!i.openBlas) {
    console.error('setup: matmul would run on the slow reference BLAS (' + i.blasLibrary + '). Fix: apt-get install libopenblas0-pthread' +
      ' && update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3');
    process.exit(1);
  }
});"

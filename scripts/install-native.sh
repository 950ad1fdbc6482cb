#!/bin/sh
# Installs the native LAPACK/BLAS that Cartan probes for (OpenBLAS with pthreads, and the reference LAPACK).
# Idempotent; without apt-get or without root it explains and exits 0 (Cartan then uses what it finds, or managed code).
set -u
PKGS="libopenblas0-pthread liblapack3"

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-native: apt-get not found; skipping. Install OpenBLAS/LAPACK with your package manager," \
         "or let Cartan use its managed fallback (CARTAN_LAPACK=managed)."
    exit 0
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-native: already installed:$(printf ' %s' $PKGS)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-native: not root; skipping. To install, run: sudo apt-get install -y$missing"
    exit 0
fi

echo "install-native: installing$missing"
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing; }; then
    echo "install-native: apt-get failed; Cartan will fall back to whatever loads, or managed code."
fi
exit 0

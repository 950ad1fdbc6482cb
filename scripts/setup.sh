#!/usr/bin/env bash
# Installs the native libraries Cartan uses when they are missing: OpenBLAS (fast LAPACK) and reference LAPACK.
# Politely does nothing where apt-get is absent or we are not root: Cartan then falls back to whatever LAPACK
# it finds, or to its managed implementation (same answers, slower), and says which one ran.
set -u
"$(dirname "$0")/setup-torch.sh" || echo "setup: TorchSharp setup failed; Cartan.Torch will not load here (cartan analyze is unaffected)"
pkgs=(libopenblas0-pthread liblapack3)
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup: no apt-get here; skipping native LAPACK install (cartan will use the managed fallback if none is found)"
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "setup: not root; skipping install of ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
    exit 0
  fi
else SUDO=""; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || echo "setup: apt-get update failed; trying the install anyway"
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || echo "setup: could not install ${missing[*]}; continuing without them"
exit 0

#!/usr/bin/env bash
# Installs the native libraries Cartan uses when they are missing: OpenBLAS (fast LAPACK) and reference LAPACK.
# Politely does nothing where apt-get is absent or we are not root: Cartan then falls back to whatever LAPACK
# it finds, or to its managed implementation (same answers, slower), and says which one ran.
set -u

install_lapack() {
pkgs=(libopenblas0-pthread liblapack3)
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup: no apt-get here; skipping native LAPACK install (cartan will use the managed fallback if none is found)"
  return 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then return 0; fi
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "setup: not root; skipping install of ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
    return 0
  fi
else SUDO=""; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || echo "setup: apt-get update failed; trying the install anyway"
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || echo "setup: could not install ${missing[*]}; continuing without them"
return 0
}

# ---------------------------------------------------------------------------------------------------------
# Headless Chromium (Debian package 'chromium'): only the report tests use it, to open the HTML report and
# check that it loads with no console error and no network request. Installed only when missing and apt is
# available; skipped politely otherwise (those tests then fail with a message naming this script).
install_chromium() {
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; skipping chromium (needed only by the HTML report tests; or set CARTAN_CHROMIUM)"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=sudo; else
      echo "setup: not root; skipping chromium (run: sudo apt-get install -y chromium)"
      return 0
    fi
  fi
  echo "setup: installing chromium (for the HTML report tests)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq chromium >/dev/null 2>&1 || { $sudo apt-get update -qq >/dev/null 2>&1; $sudo apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "setup: could not install chromium; the HTML report tests will say so"
  return 0
}

# ---------------------------------------------------------------------------------------------------------
# TorchSharp on Debian 12 (only Cartan.Torch uses it): scripts/setup-torch.sh weakens the one GLIBCXX_3.4.32
# reference of libLibTorchSharp.so when the system libstdc++ is too old. It needs python3 (standard library).
install_python() {
  command -v python3 >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "setup: installing python3-minimal (for the TorchSharp ELF patch)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-minimal >/dev/null 2>&1 || \
      { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-minimal >/dev/null 2>&1; } || true
  fi
  return 0
}

install_lapack
install_chromium
install_python
"$(dirname "$0")/setup-torch.sh" --quiet || echo "setup: TorchSharp setup failed; Cartan.Torch will not load here (cartan analyze is unaffected)"
exit 0

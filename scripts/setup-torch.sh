#!/usr/bin/env bash
# Makes TorchSharp's native library load on a C++ runtime older than GLIBCXX_3.4.32 (Debian 12 stops at 3.4.30).
# libLibTorchSharp.so asks for GLIBCXX_3.4.32 for one symbol only (_ZSt21ios_base_library_initv, referenced by no
# relocation); scripts/elf_weaken_glibcxx.py makes that symbol and the version requirement weak (3 bytes change).
# Where the runtime has GLIBCXX_3.4.32 (Ubuntu 24.04, Debian 13) it does nothing.
# It patches the copy in the NuGet package cache, which every build copies into its output folder, and keeps the
# original as torchsharp/<version>/libLibTorchSharp.so.orig in the package folder, outside runtimes/ so that no build
# copies it (put it back with: scripts/setup-torch.sh --undo). Idempotent; a fresh
# restore brings the unpatched file back, so it runs again from every build of src/Cartan.Torch (an MSBuild target).
# Usage: scripts/setup-torch.sh [--undo] [--quiet] [NUGET_PACKAGES_ROOT]
set -u
undo=0; quiet=0; root=""
for a in "$@"; do
  case "$a" in
    --undo) undo=1 ;;
    --quiet) quiet=1 ;;
    *) root="$a" ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "setup-torch: $*"; }
[ "$(uname -s)" = "Linux" ] || { say "not Linux; nothing to do"; exit 0; }
root="${root:-${NUGET_PACKAGES:-$HOME/.nuget/packages}}"
root="${root%/}"
here="$(cd "$(dirname "$0")" && pwd)"
shopt -s nullglob
libs=("$root"/torchsharp/*/runtimes/linux-x64/native/libLibTorchSharp.so)
if [ ${#libs[@]} -eq 0 ]; then say "TorchSharp is not restored under $root yet; nothing to do"; exit 0; fi

# The original's keeping place: the package folder (torchsharp/<version>/), which no build copies from.
orig_of() { echo "${1%/runtimes/linux-x64/native/libLibTorchSharp.so}/libLibTorchSharp.so.orig"; }
for lib in "${libs[@]}"; do  # an earlier version of this script kept the original beside the library
  if [ -f "$lib.orig" ]; then
    [ -f "$(orig_of "$lib")" ] || mv -f "$lib.orig" "$(orig_of "$lib")"
    rm -f "$lib.orig"
  fi
done

if [ "$undo" = 1 ]; then
  for lib in "${libs[@]}"; do
    orig="$(orig_of "$lib")"
    if [ -f "$orig" ]; then mv -f "$orig" "$lib"; echo "setup-torch: restored $lib from $orig"; fi
  done
  exit 0
fi

# The libstdc++ the loader would pick.
stdcxx=$( (/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null) | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -z "$stdcxx" ]; then
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -f "$d/libstdc++.so.6" ] && { stdcxx="$d/libstdc++.so.6"; break; }
  done
fi
if [ -z "$stdcxx" ]; then say "no libstdc++.so.6 found; cannot judge, leaving TorchSharp as it is"; exit 0; fi
if grep -qa 'GLIBCXX_3\.4\.32' "$(readlink -f "$stdcxx")"; then
  say "$stdcxx has GLIBCXX_3.4.32; TorchSharp needs no patch"
  exit 0
fi

py=""
for p in /usr/bin/python3 python3; do command -v "$p" >/dev/null 2>&1 && { py="$p"; break; }; done
if [ -z "$py" ]; then
  echo "setup-torch: $stdcxx lacks GLIBCXX_3.4.32 and no python3 is installed to patch libLibTorchSharp.so (apt-get install -y python3)" >&2
  exit 1
fi
rc=0
for lib in "${libs[@]}"; do
  "$py" "$here/elf_weaken_glibcxx.py" "$lib" --check >/dev/null 2>&1
  case $? in
    0) say "$lib already patched" ;;
    1)
      orig="$(orig_of "$lib")"
      [ -f "$orig" ] || cp -p "$lib" "$orig"
      if "$py" "$here/elf_weaken_glibcxx.py" "$lib"; then
        echo "setup-torch: $stdcxx lacks GLIBCXX_3.4.32; patched $lib (original kept as $orig)"
      else rc=1; fi ;;
    *) "$py" "$here/elf_weaken_glibcxx.py" "$lib" --check; echo "setup-torch: cannot patch $lib" >&2; rc=1 ;;
  esac
done
exit $rc

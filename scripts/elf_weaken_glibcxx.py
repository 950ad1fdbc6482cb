#!/usr/bin/env python3
"""Lets libLibTorchSharp.so load against a libstdc++ older than GLIBCXX_3.4.32 (Debian 12 stops at 3.4.30).

The only symbol of TorchSharp's native library that needs GLIBCXX_3.4.32 is _ZSt21ios_base_library_initv, which
GCC 13's <iostream> references with a bare `.globl` only to pull libstdc++'s stream initialiser into static links:
no relocation uses it. This tool edits the ELF file in place (same size, a handful of bytes):
  1. the symbol's entry in .gnu.version becomes 1 (unversioned), as `patchelf --clear-symbol-version` does;
  2. the symbol's binding in .dynsym becomes WEAK, so the loader tolerates it having no definition anywhere
     (this replaces the stub library of the hand-made fix: nothing extra must sit beside the file);
  3. the GLIBCXX_3.4.32 requirement in .gnu.version_r gets VER_FLG_WEAK (0x2), so the loader does not refuse the
     file for the missing version.
It refuses (exit 2, file untouched) when anything else needs the version, when a relocation references the symbol,
or when the file is not the 64-bit little-endian ELF it expects. Exit 0: patched or already patched (says which).
Usage: elf_weaken_glibcxx.py FILE [--check]   (--check: exit 0 if patched, 1 if not, 2 if unpatchable; no writes)
"""
import struct
import sys

VERSION = b"GLIBCXX_3.4.32"
ALLOWED = {b"_ZSt21ios_base_library_initv"}
SHT_RELA, SHT_REL, SHT_DYNSYM = 4, 9, 11
SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_WEAK = 0x2
STB_WEAK = 2


class Refuse(Exception):
    pass


def cstr(buf, off):
    if off < 0 or off >= len(buf):
        raise Refuse(f"string offset {off} outside the string table")
    end = buf.find(b"\0", off)
    if end < 0:
        raise Refuse("unterminated string")
    return bytes(buf[off:end])


def plan(data):
    """Returns (edits, already_patched): edits is a list of (offset, bytes) that patch the file."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise Refuse("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, _ = struct.unpack_from("<HHH", data, 0x3A)
    if shentsize != 64 or shoff + shnum * 64 > len(data):
        raise Refuse("section header table outside the file")
    secs = []
    for i in range(shnum):
        name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * 64)
        if typ != 8 and off + size > len(data):  # 8 = NOBITS
            raise Refuse(f"section {i} outside the file")
        secs.append(dict(type=typ, off=off, size=size, link=link, info=info, entsize=entsize))
    by_type = lambda t: [s for s in secs if s["type"] == t]
    if len(by_type(SHT_DYNSYM)) != 1 or len(by_type(SHT_GNU_VERSYM)) != 1 or len(by_type(SHT_GNU_VERNEED)) != 1:
        raise Refuse("expected exactly one .dynsym, .gnu.version and .gnu.version_r")
    dynsym, versym, verneed = by_type(SHT_DYNSYM)[0], by_type(SHT_GNU_VERSYM)[0], by_type(SHT_GNU_VERNEED)[0]
    if dynsym["link"] >= len(secs):
        raise Refuse("bad .dynsym string table link")
    strtab = secs[dynsym["link"]]
    dynstr = data[strtab["off"]:strtab["off"] + strtab["size"]]
    nsyms = dynsym["size"] // 24
    if versym["size"] != nsyms * 2:
        raise Refuse(".gnu.version does not match .dynsym")

    edits, done = [], []
    # 3. the version requirement
    index = None
    off = verneed["off"]
    for _ in range(verneed["info"]):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, off)
        aoff = off + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aoff)
            if cstr(dynstr, vna_name) == VERSION:
                index = vna_other
                if vna_flags & VER_FLG_WEAK:
                    done.append("version")
                else:
                    edits.append((aoff + 4, struct.pack("<H", vna_flags | VER_FLG_WEAK)))
            if vna_next == 0:
                break
            aoff += vna_next
        if vn_next == 0:
            break
        off += vn_next
    if index is None:
        raise Refuse(f"no {VERSION.decode()} requirement (nothing to do)")

    # 1 and 2: every symbol bound to that version, or the allowed one already cleared
    targets = []
    for i in range(nsyms):
        st_name, st_info, st_other, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, dynsym["off"] + i * 24)
        vs, = struct.unpack_from("<H", data, versym["off"] + i * 2)
        name = cstr(dynstr, st_name)
        if (vs & 0x7FFF) == index or (name in ALLOWED and st_shndx == 0):
            if name not in ALLOWED:
                raise Refuse(f"symbol {name.decode()} also needs {VERSION.decode()}; weakening it would be unsafe")
            if st_shndx != 0:
                raise Refuse(f"{name.decode()} is defined here, not imported")
            targets.append(i)
            if (vs & 0x7FFF) == index:
                edits.append((versym["off"] + i * 2, struct.pack("<H", 1)))
            else:
                done.append("symver")
            if st_info >> 4 != STB_WEAK:
                edits.append((dynsym["off"] + i * 24 + 4, bytes([(STB_WEAK << 4) | (st_info & 0xF)])))
            else:
                done.append("weak")
    if not targets:
        raise Refuse("the symbol to weaken was not found")
    # no relocation may use the symbol: a weak undefined symbol resolves to address 0
    for s in secs:
        if s["type"] in (SHT_RELA, SHT_REL) and s["link"] < len(secs) and secs[s["link"]] is dynsym:
            ent = 24 if s["type"] == SHT_RELA else 16
            for r in range(s["size"] // ent):
                r_info, = struct.unpack_from("<Q", data, s["off"] + r * ent + 8)
                if (r_info >> 32) in targets:
                    raise Refuse("a relocation references the symbol; weakening it would be unsafe")
    return edits, done


def main():
    args = sys.argv[1:]
    check = "--check" in args
    files = [a for a in args if a != "--check"]
    if len(files) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = files[0]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    try:
        edits, done = plan(data)
    except Refuse as e:
        print(f"elf_weaken_glibcxx: {path}: {e}", file=sys.stderr)
        return 2
    if not edits:
        if not check:
            print(f"elf_weaken_glibcxx: {path}: already patched")
        return 0
    if check:
        return 1
    for off, b in edits:
        data[off:off + len(b)] = b
    tmp = path + ".cartan-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    import os, shutil
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
    print(f"elf_weaken_glibcxx: {path}: patched ({len(edits)} edits: symbol version cleared, symbol weak, "
          f"{VERSION.decode()} requirement weak)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

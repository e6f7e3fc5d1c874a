#!/usr/bin/env python3
"""Writes a C file holding a binary file's bytes: embed.py INPUT OUTPUT SYMBOL."""
import sys

data = open(sys.argv[1], "rb").read()
sym = sys.argv[3]
with open(sys.argv[2], "w") as out:
    out.write(f"/* Generated from {sys.argv[1].rsplit('/', 1)[-1]} by scripts/embed.py. */\n")
    out.write("#include <stddef.h>\n\n")
    out.write(f"const unsigned char {sym}[] = {{\n")
    for i in range(0, len(data), 16):
        out.write("\t" + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",\n")
    out.write("};\n")
    out.write(f"const size_t {sym}_len = sizeof({sym});\n")

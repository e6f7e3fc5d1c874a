#!/usr/bin/env python3
"""Fails when a file under src/ includes a header from a layer above its own.

The layers, lowest first (docs/architecture.md). A file may include headers of
its own layer and of any layer below it; tests may include anything."""
import pathlib
import re
import sys

LAYERS = ["util", "core", "arch", "boot", "devices", "vmm", "sandbox", "kernel", "api", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/')


def layer_of(path, src):
    rel = path.relative_to(src)
    if len(rel.parts) == 1:  # main.c: the front-end's entry point
        return "cli"
    return rel.parts[0]


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    bad = []
    for path in sorted(src.rglob("*.[ch]")):
        own = layer_of(path, src)
        if own not in RANK:
            bad.append(f"{path}: directory '{own}' is in no layer (scripts/check-layers.py)")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            if target not in RANK:
                bad.append(f"{path}:{n}: includes from '{target}', which is in no layer")
            elif RANK[target] > RANK[own]:
                bad.append(f"{path}:{n}: {own}/ includes {m.group(1)}/ (a higher layer)")
    for b in bad:
        print(b)
    if bad:
        print(f"check-layers: {len(bad)} include(s) against the layering", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# Stand-in for the kernel's merge_config.sh: -m -O DIR BASE FRAGMENT...
# (fragment lines replace base lines of the same option).
set -e
[ "$1" = -m ] && shift
[ "$1" = -O ] && { out=$2; shift 2; }
base=$1; shift
cp "$base" "$out/.config.merge"
for f in "$@"; do
	grep -o 'CONFIG_[A-Z0-9_]*' "$f" | while read -r opt; do
		grep -v "^$opt=\|^# $opt is not set" "$out/.config.merge" > "$out/.config.tmp" || true
		mv "$out/.config.tmp" "$out/.config.merge"
	done
	grep '^CONFIG_\|^# CONFIG_.* is not set' "$f" >> "$out/.config.merge"
done
mv "$out/.config.merge" "$out/.config"

#!/bin/bash
# A KVM host with hardware-style virtualization for a machine that has none
# (no /dev/kvm, or PVM's): QEMU's TCG emulates an AMD CPU with SVM and nested
# paging, Debian's kernel boots in it and loads kvm_amd, and COMMAND runs there
# in this machine's own root file system (read-only over 9p, with a tmpfs
# overlay whose writes vanish at the end), in the current directory, with this
# shell's exported variables. Everything runs under TCG, so it is slow, but the
# KVM it offers is a VT host's: no PVM workarounds, the I/O APIC in use.
# TCG runs single-threaded: with a thread per CPU the nested host's kernel
# hung within minutes of starting VMs (one CPU looping in exc_int3 while
# another patched kernel text: KVM's static keys), every time.
#
# usage: scripts/nested-kvm.sh [--cpus N] [--mem SIZE] [--timeout S] [--out DIR] -- COMMAND...
#   --out DIR: a host directory COMMAND sees as /nested-out (results to keep)
# Exit status: COMMAND's; 124 if it ran past --timeout; 125 if the nested
# host could not be set up. Cache: ${XDG_CACHE_HOME:-~/.cache}/volt/nested.
set -euo pipefail

cpus=$(nproc)
mem=6G
limit=3600
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--cpus) cpus=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	sed -n '/^# usage:/,/^#   --out/p' "$0" >&2
	exit 125
fi
fail() {
	echo "nested-kvm: $*" >&2
	exit 125
}

cache=${XDG_CACHE_HOME:-$HOME/.cache}/volt/nested
mkdir -p "$cache"
command -v qemu-system-x86_64 >/dev/null || "$(dirname "$0")/install-deps.sh" --bench ||
	fail "qemu-system-x86 is not installed"

# Debian's generic kernel: it has kvm_amd, 9p and overlayfs as modules.
if [ ! -f "$cache/vmlinuz" ]; then
	rm -rf "$cache/pkg" && mkdir -p "$cache/pkg"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -qq || true
		pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || fail "no Debian linux-image package found"
	(cd "$cache/pkg" && apt-get download "$pkg" >/dev/null 2>&1) || fail "could not download $pkg"
	dpkg-deb -x "$cache"/pkg/*.deb "$cache/pkg/root"
	cp "$cache"/pkg/root/boot/vmlinuz-* "$cache/vmlinuz.new"
	mods=$cache/pkg/modules
	mkdir -p "$mods"
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs \
		fscache 9pnet 9pnet_virtio 9p overlay irqbypass ccp kvm kvm-amd tun; do
		f=$(find "$cache/pkg/root/lib/modules" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || fail "module $m not in $pkg"
		case "$f" in
		*.xz) xz -dc "$f" >"$mods/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"$mods/$m.ko" ;;
		*) cp "$f" "$mods/$m.ko" ;;
		esac
		echo "$m" >>"$mods/order"
	done
	rm -rf "$cache/initrd" && mkdir -p "$cache/initrd"/{bin,proc,sys,dev,lower,upper,merged,share}
	cp /bin/busybox "$cache/initrd/bin/" || fail "busybox-static is not installed"
	mv "$mods" "$cache/initrd/mods"
	cat >"$cache/initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "nested-kvm: insmod $m failed"; done
[ -c /dev/kvm ] || echo "nested-kvm: no /dev/kvm in the nested host"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /lower &&
mount -t tmpfs -o size=50% upper /upper && mkdir -p /upper/u /upper/w &&
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w root /merged &&
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /share || {
	echo "nested-kvm: could not mount the host's root"; poweroff -f; }
m=/merged
mount -t proc proc $m/proc; mount -t sysfs sys $m/sys; mount -t devtmpfs dev $m/dev
mkdir -p $m/dev/pts $m/dev/shm $m/nested-out; mount -t devpts devpts $m/dev/pts
mount -t tmpfs shm $m/dev/shm; mount -t tmpfs tmp $m/tmp; mount --bind /share $m/nested-out
ip link set lo up; hostname nested-kvm
chroot $m /bin/bash /nested-out/.job </dev/null
echo $? >/share/.rc
poweroff -f
EOF
	chmod +x "$cache/initrd/init"
	(cd "$cache/initrd" && find . | cpio -o -H newc --quiet) >"$cache/initrd.cpio"
	mv "$cache/vmlinuz.new" "$cache/vmlinuz"
	rm -rf "$cache/pkg" "$cache/initrd"
fi

if [ -n "$out" ]; then
	mkdir -p "$out"
	share=$(realpath "$out")
	trap 'rm -f "$share/.job" "$share/.rc"' EXIT
else
	share=$(mktemp -d)
	trap 'rm -rf "$share"' EXIT
fi
rm -f "$share/.rc"
{
	export -p | grep -v -E '^declare -x (BASH[A-Z_]*|SHLVL|OLDPWD|PWD|_|TERM|SSH_[A-Z_]*|DISPLAY)='
	echo 'export VOLT_NESTED_TCG=1' # tests skip what TCG emulates unlike hardware
	# A pool of 2 MiB pages (320 MiB) for the huge_pages "2M" tests.
	echo 'echo 160 >/proc/sys/vm/nr_hugepages 2>/dev/null'
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	printf ' 2>&1\n'
} >"$share/.job"

rc=0
timeout "$limit" qemu-system-x86_64 -accel tcg,thread=single -cpu max -smp "$cpus" -m "$mem" \
	-display none -no-reboot -nic none -monitor none -serial file:/dev/stdout \
	-kernel "$cache/vmlinuz" -initrd "$cache/initrd.cpio" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$share,mount_tag=share,security_model=none,multidevs=remap" </dev/null || rc=$?
[ "$rc" = 124 ] && { echo "nested-kvm: timed out after $limit s" >&2; exit 124; }
[ -f "$share/.rc" ] || fail "the nested host ended without COMMAND's status (qemu: $rc)"
exit "$(cat "$share/.rc")"

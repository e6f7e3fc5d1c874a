#!/usr/bin/env bash
# virtio devices, volt vs QEMU's microvm in the same run: virtio-blk
# sequential read/write (1 MiB blocks) and 4 KiB random read/write IOPS with
# fio inside the guest (psync, O_DIRECT on the raw /dev/vda), and a guest->host
# stream over TCP (virtio-net on a TAP, both VMMs) and over vsock (volt; QEMU's
# vhost-vsock-device needs /dev/vhost-vsock). Same guest-kit kernel,
# initramfs (plus fio and a static stream sender), drive contents (a fresh
# copy each) and fio job for both; prints the figures and the ratios.
#
# QEMU uses KVM where it can boot Linux and TCG elsewhere: on PVM hosts
# (/sys/module/kvm_pvm) QEMU+KVM stops in the guest kernel's int3 self-test,
# which QEMU does not reflect as volt does, so the comparison is against TCG
# there and says so. QEMU_ACCEL=kvm|tcg overrides.
#
# Usage: bench/virtio.sh        (root for the TAP; without it, no TCP figure)
# Knobs: SEQ_MIB (32), RAND_SECONDS (10), STREAM_MIB (16), MEM_MIB (256),
#        BOOT_TIMEOUT (1500 s per VM), VOLT (build/volt), VOLT_ARGS (extra
#        volt run options, e.g. "--seccomp log"), KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
volt=${VOLT:-build/volt}
seq_mib=${SEQ_MIB:-32}
rand_s=${RAND_SECONDS:-10}
stream_mib=${STREAM_MIB:-16}
mem=${MEM_MIB:-256}
boot_timeout=${BOOT_TIMEOUT:-1500}
qemu=$(command -v qemu-system-x86_64 || true)
fio=$(command -v fio || true)

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$volt" ] || die "build first (make build)"
[ -n "$qemu" ] || die "qemu-system-x86_64 missing (scripts/install-deps.sh --bench)"
[ -n "$fio" ] || die "fio missing (apt-get install fio)"
command -v gcc >/dev/null && command -v cpio >/dev/null || die "gcc and cpio are needed"
kernel=$("$volt" kernel path --no-build 2>/dev/null) || die "no guest kit: make guest-kit"
base_initrd=$("$volt" rootfs path --no-build 2>/dev/null) || die "no guest kit: make guest-kit"

if [ -n "${QEMU_ACCEL:-}" ]; then
	accel=$QEMU_ACCEL
	accel_note="QEMU ${accel^^} (QEMU_ACCEL)"
elif [ -e /sys/module/kvm_pvm ]; then
	accel=tcg
	accel_note="QEMU TCG, because QEMU+KVM cannot boot Linux on a PVM host"
elif [ -w /dev/kvm ]; then
	accel=kvm
	accel_note="QEMU KVM"
else
	accel=tcg
	accel_note="QEMU TCG (no usable /dev/kvm)"
fi
case $accel in
kvm) qemu_accel=(-accel kvm -cpu host) ;;
tcg) qemu_accel=(-accel tcg -cpu max) ;;
*) die "QEMU_ACCEL must be kvm or tcg" ;;
esac

tmp=$(mktemp -d /tmp/volt-bench-virtio.XXXXXX)
tap=""
sink_pid=""
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
	[ -n "$tap" ] && ip link del "$tap" 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "bench: logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- the guest: the kit's initramfs + fio + the stream sender + the script ----
mkdir -p "$tmp/extra"
gcc -static -O2 -o "$tmp/extra/vbench" bench/guest/vbench.c
# fio keeps its job table in SysV shared memory, which the guest kernel lacks.
gcc -shared -fPIC -O2 -o "$tmp/extra/shmshim.so" bench/guest/shmshim.c
cat >"$tmp/extra/bench.fio" <<EOF
[global]
ioengine=psync
direct=1
filename=/dev/vda
size=${seq_mib}M
clat_percentiles=0
lat_percentiles=0
[seq-write]
rw=write
bs=1M
stonewall
[seq-read]
rw=read
bs=1M
stonewall
[rand-read]
rw=randread
bs=4k
time_based
runtime=${rand_s}
stonewall
[rand-write]
rw=randwrite
bs=4k
time_based
runtime=${rand_s}
stonewall
EOF
# $1: tcp and/or vsock. The results go through the serial console between markers.
cat >"$tmp/extra/bench.sh" <<'EOF'
LD_PRELOAD=/shmshim.so fio --thread --output-format=json --output=/tmp/fio.json /bench.fio \
	>/dev/null 2>/tmp/fio.err
echo "VBENCH-FIO-RC $?"
echo VBENCH-FIO-BEGIN
cat /tmp/fio.json /tmp/fio.err
echo VBENCH-FIO-END
for what in "$@"; do
	case $what in
	tcp) ip addr add 172.30.0.2/24 dev eth0 && ip link set eth0 up &&
		/vbench tcp 172.30.0.1 5201 STREAM_MIB; echo "VBENCH-TCP-RC $?" ;;
	vsock) /vbench vsock 5202 STREAM_MIB; echo "VBENCH-VSOCK-RC $?" ;;
	esac
done
EOF
sed -i "s/STREAM_MIB/$stream_mib/" "$tmp/extra/bench.sh"
python3 bench/lib/fio_kit.py "$tmp/fio.cpio" "$fio"
(cd "$tmp/extra" && printf '%s\n' vbench shmshim.so bench.fio bench.sh | cpio -o -H newc --quiet) >"$tmp/extra.cpio"
cat "$base_initrd" "$tmp/fio.cpio" "$tmp/extra.cpio" >"$tmp/initrd"

# The drive: written once (not sparse), copied fresh for each VMM.
dd if=/dev/zero of="$tmp/disk.master" bs=1M count=$((seq_mib + 16)) status=none

streams=(vsock)
if [ "$(id -u)" = 0 ]; then
	tap=vbench$$
	ip tuntap add dev "$tap" mode tap
	ip addr add 172.30.0.1/24 dev "$tap"
	ip link set "$tap" up
	streams=(tcp vsock)
else
	echo "bench: not root: no TAP, so no TCP figure"
fi

cmdline() { echo "console=ttyS0 reboot=k panic=-1 quiet volt.cmd=\"sh /bench.sh $*\""; }

# Runs one VM: $1 name, $2 stream kinds, then the command. Leaves $tmp/$1.log
# and $tmp/$1-{tcp,vsock}.json.
run_vm() {
	local name=$1 kinds=$2 t0 t1 rc=0
	shift 2
	rm -f "$tmp/$name-tcp.json" "$tmp/$name-vsock.json"
	sink_pid=""
	case " $kinds " in *" tcp "*)
		python3 bench/lib/sink.py --timeout "$boot_timeout" tcp 172.30.0.1 5201 \
			"$tmp/$name-tcp.json" & sink_pid=$! ;;
	esac
	case " $kinds " in *" vsock "*)
		python3 bench/lib/sink.py --timeout "$boot_timeout" unix "$tmp/v.sock_5202" \
			"$tmp/$name-vsock.json" & sink_pid="$sink_pid $!" ;;
	esac
	sleep 0.5 # the sinks listen
	t0=$(date +%s)
	timeout "$boot_timeout" "$@" >"$tmp/$name.log" 2>&1 </dev/null || rc=$?
	t1=$(date +%s)
	for p in $sink_pid; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	sink_pid=""
	echo "bench: $name: exit $rc after $((t1 - t0)) s"
	grep -q 'VBENCH-FIO-RC 0' "$tmp/$name.log" && grep -q VBENCH-FIO-END "$tmp/$name.log" || {
		tail -n 30 "$tmp/$name.log" >&2
		die "$name: the guest did not finish (log above)"
	}
}

echo "bench: guest kit $(basename "$(dirname "$kernel")"), fio $("$fio" --version), accel: $accel_note"
cp "$tmp/disk.master" "$tmp/disk-volt.img"
volt_net=()
[ -n "$tap" ] && volt_net=(--net "tap=$tap")
run_vm volt "${streams[*]}" "$volt" run --kernel "$kernel" --initrd "$tmp/initrd" --mem "$mem" \
	--drive "path=$tmp/disk-volt.img" "${volt_net[@]}" --vsock "cid=3,uds=$tmp/v.sock" \
	--log-level warn ${VOLT_ARGS:-} --cmdline "$(cmdline "${streams[@]}")"

qemu_streams=()
qemu_net=()
if [ -n "$tap" ]; then
	qemu_streams=(tcp)
	qemu_net=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
		-device virtio-net-device,netdev=n0)
fi
cp "$tmp/disk.master" "$tmp/disk-qemu.img"
run_vm qemu "${qemu_streams[*]}" "$qemu" -M microvm,isa-serial=on,acpi=off \
	"${qemu_accel[@]}" -smp 1 -m "$mem" -nodefaults -no-user-config -nographic -no-reboot \
	-serial stdio -kernel "$kernel" -initrd "$tmp/initrd" -append "$(cmdline "${qemu_streams[@]}")" \
	-drive "id=d0,file=$tmp/disk-qemu.img,format=raw,if=none" -device virtio-blk-device,drive=d0 \
	"${qemu_net[@]}"

python3 - "$tmp" "$accel_note" "$seq_mib" "$rand_s" "$stream_mib" "$mem" <<'EOF'
import json, os, platform, sys

tmp, accel, seq_mib, rand_s, stream_mib, mem = sys.argv[1:]


def fio(name):
    text = open(os.path.join(tmp, name + ".log"), errors="replace").read().replace("\r", "")
    body = text.split("VBENCH-FIO-BEGIN\n", 1)[1].split("VBENCH-FIO-END", 1)[0]
    doc = json.JSONDecoder().raw_decode(body[body.index("{"):])[0]  # fio.err may follow
    jobs = {j["jobname"]: j for j in doc["jobs"]}
    util = doc.get("disk_util") or [{}]
    return {
        "seq read MiB/s": jobs["seq-read"]["read"]["bw"] / 1024,
        "seq write MiB/s": jobs["seq-write"]["write"]["bw"] / 1024,
        "4k rand read IOPS": jobs["rand-read"]["read"]["iops"],
        "4k rand write IOPS": jobs["rand-write"]["write"]["iops"],
        "4k rand read latency ms": jobs["rand-read"]["read"]["clat_ns"]["mean"] / 1e6,
        "guest-seen disk busy %": util[0].get("util"),
    }


def stream(name, kind):
    p = os.path.join(tmp, f"{name}-{kind}.json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))
    return r["bytes"] / r["seconds"] / (1 << 20) if r["seconds"] > 0 and r["bytes"] else None


res = {n: fio(n) for n in ("volt", "qemu")}
for n in res:
    res[n]["TCP guest->host MiB/s"] = stream(n, "tcp")
    res[n]["vsock guest->host MiB/s"] = stream(n, "vsock")
load = open("/proc/loadavg").read().split()[:3]
print(f"\nvirtio bench: volt vs QEMU {os.popen('qemu-system-x86_64 --version').read().split()[3]}"
      f" -M microvm; {accel}")
print(f"host: Linux {platform.release()}, {os.cpu_count()} CPUs, load {' '.join(load)};"
      f" guest: guest-kit kernel, 1 vCPU, {mem} MiB")
print(f"fio psync direct=1 on /dev/vda (raw file, host page cache): sequential 1 MiB blocks"
      f" over {seq_mib} MiB, random 4 KiB for {rand_s} s each; streams: {stream_mib} MiB")
print(f"{'':26}{'volt':>12}{'qemu':>12}{'volt/qemu':>12}")
for k in res["volt"]:
    v, q = res["volt"][k], res["qemu"][k]
    fmt = lambda x: f"{x:12.1f}" if x is not None else f"{'-':>12}"
    ratio = f"{v / q:12.3g}" if v is not None and q else f"{'-':>12}"
    print(f"{k:26}{fmt(v)}{fmt(q)}{ratio}")
if res["qemu"]["vsock guest->host MiB/s"] is None:
    print("vsock: volt only (QEMU's vhost-vsock-device needs /dev/vhost-vsock"
          + (", which this host lacks)" if not os.path.exists("/dev/vhost-vsock") else ")"))
if os.path.exists("/sys/module/kvm_pvm"):
    print("PVM host: volt's guest runs its kernel in KVM's instruction emulator (about 1 us per"
          " ring-0 instruction), QEMU's in TCG's translated code: the ratios measure that, the"
          " device models hardly (see the guest-seen disk busy share)")
if res["volt"]["TCP guest->host MiB/s"] is None:
    print("TCP: no figure (needs root for the TAP)")
EOF

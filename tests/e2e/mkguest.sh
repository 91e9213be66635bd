#!/bin/sh
# Build the tiny test guest used by the end-to-end and integration tests:
#   OUTDIR/vmlinux     the host's Debian kernel, decompressed to an ELF vmlinux
#                      (its PVH note lets qemu boot it directly, about twice as
#                      fast as a bzImage under TCG)
#   OUTDIR/initrd.gz   busybox initramfs whose /init reports on the serial
#                      console, one line per fact, each starting "TINYSTACK-":
#     TINYSTACK-GUEST-UP bootid=B uptime=S failed_modules=M,...   once per boot,
#                          when the ACPI power button is handled (B: 8 hex)
#     TINYSTACK-GUEST-DISK vda sectors=N ro=0|1 head=TEXT   per block device
#                          (hotplug=1 appended for a virtio disk attached
#                          later, TINYSTACK-GUEST-DISK-GONE vdX when one
#                          goes: with "TINYSTACK-HOTPLUG", see NIC; a
#                          blank one attached later gets TSVOL-<bootid>
#                          written at its start, then
#                          TINYSTACK-GUEST-DISK-WROTE vdX mark=TSVOL-B)
#     TINYSTACK-GUEST-CONFIGDRIVE dev=D uuid=U name=N pass=P  config drive (label config-2;
#                                            P: its admin_pass, [A-Za-z0-9] only)
#     TINYSTACK-GUEST-USERDATA TEXT                first line of user_data
#     TINYSTACK-GUEST-NIC if=I mac=M               per NIC (hotplug=1 appended for one
#                                                  attached later: "TINYSTACK-HOTPLUG" line
#                                                  in user_data, or tinystack.hotplug on
#                                                  the kernel command line)
#     TINYSTACK-GUEST-LEASE if=I ip=A mask=M router=R   DHCP lease (if any)
#     TINYSTACK-GUEST-PING-OK ip=A tries=N     for each user_data line
#     TINYSTACK-GUEST-PING-FAIL ip=A tries=N     "TINYSTACK-PING A N": after
#                          the first lease, A is pinged (1 s per try) until
#                          it answers or N tries failed (N <= 600)
#     TINYSTACK-GUEST-PINGLOOP ip=A n=N ok|fail  "TINYSTACK-PINGLOOP A" lines:
#                          after the first lease, each A is pinged (1 s) in
#                          round N = 1, 2, ... for ever, a round a second
#     TINYSTACK-GUEST-MD uuid=U                "TINYSTACK-METADATA" line: after
#     TINYSTACK-GUEST-MD-USERDATA TEXT         the first lease, from
#     TINYSTACK-GUEST-MD-KEY TYPE BLOB COMMENT http://169.254.169.254/ (busybox
#     TINYSTACK-GUEST-MD-FAIL what=W           wget, 60 tries each):
#                          meta_data.json's uuid, user_data's first line, EC2
#                          public-keys/0/openssh-key's first line
#     TINYSTACK-GUEST-HTTPD port=80 uuid=U name=N   "TINYSTACK-HTTPD" line: once
#                          busybox httpd listens on tcp/80; it serves /
#                          (index.html) as the one line "TINYSTACK-PAGE uuid=U
#                          name=N bootid=B", the config drive's uuid and name
#                          and the boot (which guest, which copy of it
#                          answered); HTTPD-FAIL if it could not bind
#     TINYSTACK-GUEST-ECHO port=P              "TINYSTACK-ECHO P" lines: a line
#                          echo service (busybox nc -ll -e cat, any number of
#                          long-lived sessions) on tcp/P, started at once
#     TINYSTACK-GUEST-VOLREAD vdX n=N ok head=TEXT   "TINYSTACK-VOLREAD" line
#     TINYSTACK-GUEST-VOLREAD vdX n=N fail           (with TINYSTACK-HOTPLUG):
#                          every hot-plugged disk's (and every disk but vda
#                          found at boot with a TSVOL- mark) first 16 bytes read
#                          again with O_DIRECT (past the guest's cache, so
#                          each read reaches the volume's target) in round
#                          N = 1, 2, ..., a round a second; a read that
#                          hangs (target gone) delays the next round
#     TINYSTACK-GUEST-VOLWRITE vdX n=N ok|fail     "TINYSTACK-VOLWRITE" line
#                          (with VOLREAD): after each such read, TSW-vdX-N
#                          written at byte 512 (O_DIRECT, fsync) and read
#                          back (O_DIRECT): ok when it reads what was written
#     TINYSTACK-GUEST-DDBENCH vdX mb=M read_s=S read_mbps=R write_s=S write_mbps=W
#                          "TINYSTACK-DDBENCH M" line (with TINYSTACK-HOTPLUG,
#                          M <= 4096): once per hot-plugged disk, after its
#                          mark, M MiB read then written back (zeros) at its
#                          start with dd bs=1M and O_DIRECT (the write ends
#                          with fsync); DDBENCH-FAIL vdX what=read|write
#     TINYSTACK-GUEST-ROOTMARK vda mark=TSROOT-B   "TINYSTACK-ROOTMARK" line: once
#                          per boot, after the DISK lines, TSROOT-B written
#                          (fsynced) at the start of the root disk vda, so the
#                          next boot's "DISK vda ... head=" names the boot that
#                          last ran from that copy of the disk (ROOTMARK-FAIL
#                          vda if it could not be written)
#     TINYSTACK-GUEST-TICK n=N bootid=B            every second
#     TINYSTACK-GUEST-POWERBTN bootid=B            ACPI power button: powers off
# Usage: mkguest.sh OUTDIR      (needs cpio, gzip, python3 and the installed
# linux-image-amd64; KVER=... picks another installed kernel)
# The guest's busybox is static: busybox-static's /bin/busybox when that
# package is installed (run_tests.sh's dependencies), else the binary taken
# from its .deb (packaging/deb-extract.sh, kept in OUTDIR/busybox-static)
# without installing it: installing it would replace Debian's own (dynamic)
# busybox and rebuild the host's initramfs, the slowest step of a fresh
# ./stack.sh. Idempotent: an existing OUTDIR/vmlinux and OUTDIR/busybox-static
# are kept; the initrd is rebuilt.
set -eu
OUT=${1:?usage: mkguest.sh OUTDIR}
mkdir -p "$OUT"
KVER=${KVER:-$(ls /lib/modules | sort -V | tail -n 1)}
KIMG=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER/kernel
[ -r "$KIMG" ] || { echo "mkguest.sh: no kernel $KIMG" >&2; exit 1; }
if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q ' installed$'; then
	BUSYBOX=/bin/busybox
else
	"$(dirname "$0")/../../packaging/deb-extract.sh" busybox-static "$OUT/busybox-static"
	BUSYBOX=$OUT/busybox-static/bin/busybox
fi

# --- kernel: find the compressed payload inside the bzImage and inflate it;
# the first candidate whose output is an ELF image wins.
if [ ! -s "$OUT/vmlinux" ]; then
	python3 - "$KIMG" "$OUT/vmlinux.tmp" <<'PY'
import gzip, lzma, sys, zlib
data = open(sys.argv[1], 'rb').read()
def candidates():
    for magic, fn in ((b'\xfd7zXZ\x00', lambda b: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(b)),
                      (b'\x1f\x8b\x08', lambda b: zlib.decompressobj(31).decompress(b)),
                      (b'\x5d\x00\x00', lambda b: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(b))):
        off = data.find(magic)
        while off != -1:
            yield off, fn
            off = data.find(magic, off + 1)
for off, fn in candidates():
    try:
        out = fn(data[off:])
    except Exception:
        continue
    if out[:4] == b'\x7fELF':
        open(sys.argv[2], 'wb').write(out)
        sys.exit(0)
sys.exit('mkguest.sh: no xz/gzip/lzma ELF payload found in ' + sys.argv[1])
PY
	mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
fi
# qemu runs as an unprivileged user under the system libvirtd.
chmod 0644 "$OUT/vmlinux"

# --- initramfs
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/mkguest.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/etc/acpi/PWRF" \
	"$ROOT/lib/modules" "$ROOT/mnt" "$ROOT/tmp" "$ROOT/var/run" "$ROOT/var/log"
cp "$BUSYBOX" "$ROOT/bin/busybox"

# Modules (all =m in Debian's kernel), with their dependencies resolved by
# modinfo and written in load order (dependencies first).
WANT="virtio_pci virtio_blk virtio_net ata_piix sd_mod sr_mod isofs button evdev"
: > "$ROOT/etc/modules.order"
modpath() { find "$MODDIR" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -n 1; }
addmod() {
	grep -qx "$1" "$ROOT/etc/modules.order" && return 0
	[ -n "$(modpath "$1")" ] || { echo "mkguest.sh: module $1 not found (built in?)" >&2; return 0; }
	for d in $(modinfo -F depends "$(modpath "$1")" | tr ',' ' '); do addmod "$d"; done
	# (sh has no locals: the recursion above clobbers every variable)
	p=$(modpath "$1")
	case "$p" in
	*.xz) xz -dc "$p" > "$ROOT/lib/modules/$1.ko" ;;
	*.zst) zstd -qdc "$p" > "$ROOT/lib/modules/$1.ko" ;;
	*) cp "$p" "$ROOT/lib/modules/$1.ko" ;;
	esac
	echo "$1" >> "$ROOT/etc/modules.order"
}
for m in $WANT; do addmod "$m"; done

cat > "$ROOT/etc/udhcpc.script" <<'S'
#!/bin/sh
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "${router:-}" ] && ip route add default via "${router%% *}" dev "$interface" 2>/dev/null
	# Classless static routes (option 121, "dest/len gw" pairs), e.g. the
	# metadata address via the subnet's DHCP server.
	set -- ${staticroutes:-}
	while [ $# -ge 2 ]; do
		if [ "$2" = 0.0.0.0 ]; then
			ip route replace "$1" dev "$interface" 2>/dev/null
		else
			ip route replace "$1" via "$2" dev "$interface" 2>/dev/null
		fi
		shift 2
	done
	echo "TINYSTACK-GUEST-LEASE if=$interface ip=$ip mask=$mask router=${router:-}" > /dev/console
	echo "$ip" > "/tmp/lease-$interface" ;;
esac
exit 0
S
# busybox acpid runs PWRF/00000080 for the power button (virsh shutdown,
# virDomainShutdown/Reboot with the ACPI method).
cat > "$ROOT/etc/acpi/PWRF/00000080" <<'S'
#!/bin/sh
echo "TINYSTACK-GUEST-POWERBTN bootid=$(cat /tmp/bootid)" > /dev/console
sync
poweroff -f
S
chmod 0755 "$ROOT/etc/udhcpc.script" "$ROOT/etc/acpi/PWRF/00000080"
echo "PWRF PWRF/00000080" > "$ROOT/etc/acpid.conf"

cat > "$ROOT/init" <<'S'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
exec >/dev/console 2>&1
BOOT=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
echo "$BOOT" > /tmp/bootid
bad=""
while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null || bad="$bad,$m"; done < /etc/modules.order
# The power button works once acpid holds the input devices open; UP is
# printed only then, so a host that sees UP may send ACPI events.
acpid -c /etc/acpi -a /etc/acpid.conf -l /var/log/acpid.log -p /var/run/acpid.pid
i=0
while [ $i -lt 50 ]; do
	p=$(cat /var/run/acpid.pid 2>/dev/null)
	[ -n "$p" ] && ls -l /proc/$p/fd 2>/dev/null | grep -q /dev/input/event && break
	sleep 0.1; i=$((i+1))
done
echo "TINYSTACK-GUEST-UP bootid=$BOOT uptime=$(cut -d' ' -f1 /proc/uptime) failed_modules=${bad#,}"
# Block devices appear asynchronously after the drivers load.
i=0; while [ $i -lt 20 ] && [ -z "$(ls /sys/block | grep -E '^(vd|sd|sr)')" ]; do sleep 0.1; i=$((i+1)); done
sleep 0.5
for d in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
	[ -e "$d" ] || continue
	n=${d##*/}
	touch "/tmp/disk-$n"
	head=$(dd if=/dev/$n bs=16 count=1 2>/dev/null | tr -dc 'A-Za-z0-9_-')
	echo "TINYSTACK-GUEST-DISK $n sectors=$(cat $d/size) ro=$(cat $d/ro) head=$head"
	if mount -t iso9660 -o ro /dev/$n /mnt 2>/dev/null; then
		if [ -f /mnt/openstack/latest/meta_data.json ]; then
			md=/mnt/openstack/latest/meta_data.json
			uuid=$(sed -n 's/.*"uuid": *"\([0-9a-f-]*\)".*/\1/p' $md | head -n 1)
			name=$(sed -n 's/.*"name": *"\([^"]*\)".*/\1/p' $md | head -n 1)
			pass=$(sed -n 's/.*"admin_pass": *"\([A-Za-z0-9]*\)".*/\1/p' $md | head -n 1)
			echo "TINYSTACK-GUEST-CONFIGDRIVE dev=$n uuid=$uuid name=$name pass=$pass"
			ud=/mnt/openstack/latest/user_data
			if [ -f $ud ]; then
				echo "TINYSTACK-GUEST-USERDATA $(head -n 1 $ud | tr -dc 'A-Za-z0-9 _.:=-')"
				# Ping requests: "TINYSTACK-PING A.B.C.D TRIES" lines.
				tr -dc 'A-Za-z0-9 _.:\n-' < $ud |
				    sed -n 's/^TINYSTACK-PING \([0-9.]*\) \([0-9][0-9]*\)$/\1 \2/p' > /tmp/pings
				tr -dc 'A-Za-z0-9 _.:\n-' < $ud |
				    sed -n 's/^TINYSTACK-PINGLOOP \([0-9.]*\)$/\1/p' > /tmp/pingloop
				grep -qx TINYSTACK-METADATA $ud && touch /tmp/metadata
				grep -qx TINYSTACK-HOTPLUG $ud && touch /tmp/hotplug
				grep -qx TINYSTACK-VOLREAD $ud && touch /tmp/volread
				grep -qx TINYSTACK-VOLWRITE $ud && touch /tmp/volwrite
				tr -dc 'A-Za-z0-9 _.:\n-' < $ud |
				    sed -n 's/^TINYSTACK-DDBENCH \([0-9][0-9]*\)$/\1/p' | head -n 1 > /tmp/ddbench
				grep -qx TINYSTACK-ROOTMARK $ud && touch /tmp/rootmark
				grep -qx TINYSTACK-HTTPD $ud &&
				    echo "uuid=$uuid name=$name" > /tmp/httpd
				tr -dc 'A-Za-z0-9 _.:\n-' < $ud |
				    sed -n 's/^TINYSTACK-ECHO \([0-9][0-9]*\)$/\1/p' > /tmp/echo
			fi
		fi
		umount /mnt
	fi
done
# After the DISK lines: what an earlier boot left at vda's start is shown.
if [ -f /tmp/rootmark ] && [ -b /dev/vda ]; then
	printf 'TSROOT-%s' "$BOOT" > /tmp/rootmark.blk
	head -c 497 /dev/zero >> /tmp/rootmark.blk
	if dd if=/tmp/rootmark.blk of=/dev/vda bs=512 count=1 conv=notrunc,fsync 2>/dev/null; then
		echo "TINYSTACK-GUEST-ROOTMARK vda mark=TSROOT-$BOOT"
	else
		echo "TINYSTACK-GUEST-ROOTMARK-FAIL vda"
	fi
fi
ip link set lo up
for n in /sys/class/net/*; do
	IF=${n##*/}
	[ "$IF" = lo ] && continue
	echo "TINYSTACK-GUEST-NIC if=$IF mac=$(cat $n/address)"
	ip link set "$IF" up
	udhcpc -i "$IF" -s /etc/udhcpc.script -t 10 -T 1 -A 5 -b -S -q \
	    -O staticroutes >/dev/null 2>&1 &
	touch "/tmp/nic-$IF"
done
# Services asked for in user_data. They listen on every address, so they
# need no lease to start; whoever can reach the guest may use them.
if [ -s /tmp/httpd ]; then
	mkdir -p /www
	echo "TINYSTACK-PAGE $(cat /tmp/httpd) bootid=$BOOT" > /www/index.html
	if httpd -p 80 -h /www; then
		echo "TINYSTACK-GUEST-HTTPD port=80 $(cat /tmp/httpd)"
	else
		echo "TINYSTACK-GUEST-HTTPD-FAIL port=80"
	fi
fi
if [ -s /tmp/echo ]; then
	while read -r p; do
		nc -ll -p "$p" -e cat </dev/null >/dev/null 2>&1 &
		echo "TINYSTACK-GUEST-ECHO port=$p"
	done < /tmp/echo
fi
# "TINYSTACK-HOTPLUG" in user_data (or tinystack.hotplug on the kernel
# command line): NICs that appear later (a port attached to the running
# guest) get the same treatment, virtio disks that appear or go (a volume
# attached or detached) are reported; polled every 0.5 s for an hour at
# most.
grep -q 'tinystack.hotplug' /proc/cmdline && touch /tmp/hotplug
# ddbench DEV MB: sequential read, then write, of MB MiB at DEV's start,
# O_DIRECT in 1 MiB blocks; the seconds from /proc/uptime (1/100 s).
upt() { cut -d' ' -f1 /proc/uptime; }
ddbench() {
	m=$2
	[ "$m" -gt 4096 ] && m=4096
	t0=$(upt)
	dd if=/dev/$1 of=/dev/null bs=1M count=$m iflag=direct 2>/dev/null ||
		{ echo "TINYSTACK-GUEST-DDBENCH-FAIL $1 what=read"; return; }
	t1=$(upt)
	dd if=/dev/zero of=/dev/$1 bs=1M count=$m oflag=direct conv=notrunc,fsync 2>/dev/null ||
		{ echo "TINYSTACK-GUEST-DDBENCH-FAIL $1 what=write"; return; }
	t2=$(upt)
	echo "$m $t0 $t1 $t2" | awk -v d=$1 '{ r = $3 - $2; w = $4 - $3
		if (r <= 0) r = 0.01; if (w <= 0) w = 0.01
		printf "TINYSTACK-GUEST-DDBENCH %s mb=%d read_s=%.2f read_mbps=%.1f write_s=%.2f write_mbps=%.1f\n",
		    d, $1, r, $1 / r, w, $1 / w }'
}
# A marked volume this boot found attached (a server moved with it: cold
# migration, resize, revert) is read and written as a hot-plugged one.
if [ -f /tmp/hotplug ] && [ -f /tmp/volread ]; then
	for f in /tmp/disk-vd*; do
		n=${f#/tmp/disk-}
		[ -e "$f" ] && [ "$n" != vda ] || continue
		case $(dd if=/dev/$n bs=16 count=1 2>/dev/null | tr -dc 'A-Za-z0-9_-') in
		TSVOL-*) touch "/tmp/hp-$n";;
		esac
	done
fi
if [ -f /tmp/hotplug ] && [ -f /tmp/volread ]; then
	(
		r=0
		while [ $r -lt 1000000 ]; do	# bounded (11 days)
			r=$((r+1))
			for f in /tmp/hp-vd*; do
				[ -e "$f" ] || continue
				n=${f#/tmp/hp-}
				if dd if=/dev/$n of=/tmp/vr bs=4096 count=1 iflag=direct 2>/dev/null; then
					echo "TINYSTACK-GUEST-VOLREAD $n n=$r ok head=$(head -c 16 /tmp/vr | tr -dc 'A-Za-z0-9_-')"
				else
					echo "TINYSTACK-GUEST-VOLREAD $n n=$r fail"
				fi
				[ -f /tmp/volwrite ] || continue
				printf 'TSW-%s-%s' "$n" "$r" |
				    dd of=/tmp/vw bs=512 count=1 conv=sync 2>/dev/null
				if dd if=/tmp/vw of=/dev/$n bs=512 seek=1 count=1 oflag=direct conv=notrunc,fsync 2>/dev/null &&
				    dd if=/dev/$n of=/tmp/vw2 bs=512 skip=1 count=1 iflag=direct 2>/dev/null &&
				    [ "$(head -c 32 /tmp/vw2 | tr -dc 'A-Za-z0-9_-')" = "TSW-$n-$r" ]; then
					echo "TINYSTACK-GUEST-VOLWRITE $n n=$r ok"
				else
					echo "TINYSTACK-GUEST-VOLWRITE $n n=$r fail"
				fi
			done
			sleep 1
		done
	) &
fi
if [ -f /tmp/hotplug ]; then
	(
		r=0
		while [ $r -lt 7200 ]; do
			r=$((r+1))
			for n in /sys/class/net/*; do
				IF=${n##*/}
				[ "$IF" = lo ] || [ -e "/tmp/nic-$IF" ] && continue
				touch "/tmp/nic-$IF"
				echo "TINYSTACK-GUEST-NIC if=$IF mac=$(cat $n/address) hotplug=1"
				ip link set "$IF" up
				udhcpc -i "$IF" -s /etc/udhcpc.script -t 10 -T 1 -A 5 -b -S -q \
				    -O staticroutes >/dev/null 2>&1 &
			done
			for d in /sys/block/vd*; do
				[ -e "$d" ] || continue
				n=${d##*/}
				[ -e "/tmp/disk-$n" ] && continue
				touch "/tmp/disk-$n"
				head=$(dd if=/dev/$n bs=16 count=1 2>/dev/null | tr -dc 'A-Za-z0-9_-')
				echo "TINYSTACK-GUEST-DISK $n sectors=$(cat $d/size) ro=$(cat $d/ro) head=$head hotplug=1"
				# A blank writable disk (a new volume) gets this boot's
				# mark, so another guest can show it read it.
				if [ -z "$head" ] && [ "$(cat $d/ro)" = 0 ]; then
					printf 'TSVOL-%s' "$BOOT" | dd of=/dev/$n conv=notrunc,fsync 2>/dev/null &&
						echo "TINYSTACK-GUEST-DISK-WROTE $n mark=TSVOL-$BOOT"
				fi
				touch "/tmp/hp-$n"
				[ -s /tmp/ddbench ] && ddbench "$n" "$(cat /tmp/ddbench)"
			done
			for f in /tmp/disk-vd*; do
				[ -e "$f" ] || continue
				n=${f#/tmp/disk-}
				[ -e "/sys/block/$n" ] && continue
				rm -f "$f" "/tmp/hp-$n"
				echo "TINYSTACK-GUEST-DISK-GONE $n"
			done
			sleep 0.5
		done
	) &
fi
# The pings asked for in user_data, once some NIC has its lease (60 s at
# most), one target after the other, each bounded by its tries.
if [ -s /tmp/pings ]; then
	(
		i=0
		while [ $i -lt 600 ] && ! ls /tmp/lease-* >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done
		while read -r a n; do
			[ "$n" -gt 600 ] && n=600
			t=0; res=FAIL
			while [ $t -lt "$n" ]; do
				t=$((t+1))
				ping -c 1 -W 1 "$a" >/dev/null 2>&1 && { res=OK; break; }
				sleep 1	# (an unreachable address fails at once)
			done
			echo "TINYSTACK-GUEST-PING-$res ip=$a tries=$t"
		done < /tmp/pings
	) &
fi
# leased: waits (60 s at most) until some NIC has its lease.
leased() {
	i=0
	while [ $i -lt 600 ] && ! ls /tmp/lease-* >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done
}
if [ -s /tmp/pingloop ]; then
	(
		leased
		r=0
		while [ $r -lt 1000000 ]; do	# bounded (11 days)
			r=$((r+1))
			while read -r a; do
				res=fail
				ping -c 1 -W 1 "$a" >/dev/null 2>&1 && res=ok
				echo "TINYSTACK-GUEST-PINGLOOP ip=$a n=$r $res"
			done < /tmp/pingloop
			sleep 1
		done
	) &
fi
# The metadata service, when user_data asks: fetch URL FILE tries each
# URL (5 s each at most) up to 60 times; the documents' facts go to the console.
fetch() {
	t=0
	while [ $t -lt 60 ]; do
		t=$((t+1))
		rm -f "$2"
		timeout 5 wget -q -O "$2" "http://169.254.169.254/$1" 2>/dev/null && return 0
		sleep 1
	done
	return 1
}
if [ -e /tmp/metadata ]; then
	(
		leased
		if fetch openstack/latest/meta_data.json /tmp/md.json; then
			echo "TINYSTACK-GUEST-MD uuid=$(sed -n 's/.*"uuid": *"\([0-9a-f-]*\)".*/\1/p' /tmp/md.json | head -n 1)"
		else
			echo "TINYSTACK-GUEST-MD-FAIL what=meta_data.json"
		fi
		if fetch openstack/latest/user_data /tmp/md-ud; then
			echo "TINYSTACK-GUEST-MD-USERDATA $(head -n 1 /tmp/md-ud | tr -dc 'A-Za-z0-9 _.:=-')"
		else
			echo "TINYSTACK-GUEST-MD-FAIL what=user_data"
		fi
		if fetch latest/meta-data/public-keys/0/openssh-key /tmp/md-key; then
			echo "TINYSTACK-GUEST-MD-KEY $(head -n 1 /tmp/md-key | tr -dc 'A-Za-z0-9 _.:=@+/-')"
		else
			echo "TINYSTACK-GUEST-MD-FAIL what=openssh-key"
		fi
	) &
fi
i=0
while [ $i -lt 1000000 ]; do	# bounded (11 days)
	echo "TINYSTACK-GUEST-TICK n=$i bootid=$BOOT"
	sleep 1
	i=$((i+1))
done
poweroff -f
S
chmod 0755 "$ROOT/init"
(cd "$ROOT" && find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$OUT/initrd.gz.tmp"
mv "$OUT/initrd.gz.tmp" "$OUT/initrd.gz"
chmod 0644 "$OUT/initrd.gz"
echo "$OUT/vmlinux $OUT/initrd.gz"

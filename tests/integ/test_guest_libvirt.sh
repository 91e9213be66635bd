#!/bin/bash
# A real TCG guest on the system libvirtd (qemu:///system; run_tests.sh
# starts it with packaging/libvirtd.sh), made by the agent's guest modules
# through tests/integ/guestctl: the image comes from an HTTP image API on
# 127.0.0.1 (checksum and format verified into the image cache), the root
# disk is a qcow2 overlay on it plus ephemeral, swap and a config drive,
# the domain XML boots tests/e2e/mkguest.sh's kernel + initramfs directly
# (served as aki/ari images through the same cache, as for an AMI),
# with a NIC on a private bridge (no addresses). guestctl checks the boot
# marker, disks, config drive, NIC, console tail, VNC on loopback, soft
# reboot, shutdown/start, managed save/restore, and delete; this script
# then checks that nothing is left: no domain, no saved state, no tap, no
# instance or cache file. Domains are named ts-test-*; they and the bridge
# are removed on any exit.
. "$(dirname "$0")/lib.sh"

V="virsh -c qemu:///system"
GUESTCTL=$TS_BUILD_DIR/tests/unit/guestctl
[ -x "$GUESTCTL" ] || fail "guestctl is not built ($GUESTCTL)"
$V version >/dev/null 2>&1 ||
	fail "libvirtd is not answering on qemu:///system (run_tests.sh starts it: packaging/libvirtd.sh start)"

UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
NAME=ts-test-${UUID:0:8}
BR=tsbr${UUID:0:8}
TAP=tst-${UUID:0:8}
MAC=52:54:00:$(echo "${UUID:9:2}:${UUID:14:2}:${UUID:19:2}")
IMAGE_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
KERNEL_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
RAMDISK_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
BR_MADE=""

guest_cleanup() {
	local rc=$?
	if $V dominfo "$NAME" >/dev/null 2>&1; then
		$V destroy "$NAME" >/dev/null 2>&1 || true
		$V undefine "$NAME" --managed-save --nvram >/dev/null 2>&1 || true
	fi
	[ -n "$BR_MADE" ] && ip link del "$BR" 2>/dev/null
	# libvirt keeps each domain's qemu log after undefine (as for Nova's
	# instance-*.log); remove the test's own.
	rm -f "/var/log/libvirt/qemu/$NAME.log"
	# lib.sh's cleanup reads the exit status from $? (and errexit is on:
	# only a status set inside an || list does not end the trap here)
	if [ $rc -eq 0 ]; then
		cleanup
	else
		(exit $rc) || cleanup
	fi
}
trap guest_cleanup EXIT
# qemu runs as libvirt-qemu: it must reach the kernel, initrd and disks.
chmod 0711 "$T"

# --- the guest, under $T so that qemu can read it wherever the build is
GUEST=$T/guest
"$TS_SOURCE_DIR/tests/e2e/mkguest.sh" "$GUEST" >/dev/null || fail "mkguest.sh"
chmod 0755 "$GUEST"
ok "guest kernel + initramfs built ($(du -h "$GUEST/initrd.gz" | cut -f1) initrd)"

# --- the images behind a throwaway HTTP image API on 127.0.0.1
W=$T/www/v2/images
mkdir -p "$W/$IMAGE_ID" "$W/$KERNEL_ID" "$W/$RAMDISK_ID" "$T/img"
printf 'TSBASEIMAGE-0001' > "$T/img/base.raw"
truncate -s 8M "$T/img/base.raw"
qemu-img convert -f raw -O qcow2 "$T/img/base.raw" "$W/$IMAGE_ID/file"
ln -s "$GUEST/vmlinux" "$W/$KERNEL_ID/file"
ln -s "$GUEST/initrd.gz" "$W/$RAMDISK_ID/file"
sha() { sha512sum "$1" | cut -d' ' -f1; }
SIZE=$(stat -c %s "$W/$IMAGE_ID/file")
PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$PORT" \
	>"$T/http.log" 2>&1 &
PIDS+=($!)
disown $!
wait_for 10 "image API on 127.0.0.1:$PORT" \
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/images/$IMAGE_ID/file"

# --- a private bridge without addresses for the NIC: the NIC is part of
# what is tested, so a bridge that cannot be made fails the test (the
# test runs as root, and every kernel CI uses has the bridge module)
ip link add "$BR" type bridge 2>"$T/bridge.err" ||
	fail "cannot create bridge $BR for the guest NIC: $(cat "$T/bridge.err")"
BR_MADE=1
ip link set "$BR" up
NICARGS=(--bridge "$BR" --mac "$MAC")

# --- the scenario
if ! "$GUESTCTL" --dir "$T" --image-url "http://127.0.0.1:$PORT" \
	--image-id "$IMAGE_ID" --image-sha512 "$(sha "$W/$IMAGE_ID/file")" \
	--image-format qcow2 --image-size "$SIZE" \
	--kernel-id "$KERNEL_ID" --kernel-sha512 "$(sha "$GUEST/vmlinux")" \
	--ramdisk-id "$RAMDISK_ID" --ramdisk-sha512 "$(sha "$GUEST/initrd.gz")" \
	--uuid "$UUID" --name "$NAME" \
	"${NICARGS[@]}" --timeout 60 2>"$T/guestctl.log" |
	tee "$T/guestctl.out"; then
	fail "guestctl scenario failed"
fi
NPASS=$((NPASS + $(grep -c '^ok ' "$T/guestctl.out")))
grep -q '^ok .*guest NIC on bridge' "$T/guestctl.out" ||
	fail "guestctl did not check the guest NIC"

# --- nothing left behind
$V list --all --name | grep -qx "$NAME" && fail "domain $NAME still defined"
[ -e "/var/lib/libvirt/qemu/save/$NAME.save" ] && fail "managed save image left"
[ -e "/run/libvirt/qemu/$NAME.xml" ] && fail "libvirt runtime state left"
ip link show "$TAP" >/dev/null 2>&1 && fail "tap $TAP left"
left=$(find "$T/instances" -mindepth 1 ! -path "$T/instances/_base" 2>/dev/null)
[ -z "$left" ] || fail "instance files left: $left"
left=$(find "$T/instances/_base" -mindepth 1 2>/dev/null)
[ -z "$left" ] || fail "image cache files left: $left"
ok "no domain, saved state, tap, instance file or cached image left"

echo "$NPASS passed, 0 failed"

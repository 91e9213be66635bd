#!/bin/sh
# Installs every build, runtime and test dependency of tinystack on Debian 12
# (run_tests.sh), or with --stack only what ./stack.sh's all-in-one needs:
# the build of the three daemons, the runtime, the operator's clients and
# the sample image's parts. The test tools (tempest, chromium, node, wrk,
# the sanitizers' compilers) were two thirds of a fresh stack.sh's
# downloads and unpacking.
# With --build only the daemons' build (stack.sh starts building while
# the rest installs).
# Idempotent: packages already present are left alone, and apt-get update runs
# only when something is missing.
set -eu

PROFILE=all
case "${1:-}" in
--stack) PROFILE=stack ;;
--build) PROFILE=build ;;
"") ;;
*) echo "usage: $0 [--stack|--build]" >&2; exit 2 ;;
esac

# The daemons' build: a C compiler, not build-essential (g++ and dpkg-dev
# are for C++ and Debian packages). libjemalloc-dev: the controller's malloc
# (its libjemalloc2 is the runtime's).
BUILD="gcc make libc6-dev cmake pkg-config
 libzmq3-dev libvirt-dev liblmdb-dev lmdb-utils
 libnl-3-dev libnl-route-3-dev libmicrohttpd-dev libjansson-dev
 libsodium-dev uuid-dev libgnutls28-dev libcurl4-openssl-dev python3
 libjemalloc-dev"
# The tests' build (cmake -DTS_TESTS=ON, run_tests.sh): cmocka, and
# msgpack-c as the codec tests' reference decoder. Not for ./stack.sh:
# Debian 12's libmsgpack-dev pulls in Boost's headers (12,000 files).
TESTBUILD="libcmocka-dev libmsgpack-dev"
RUNTIME="libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils qemu-block-extra
 dnsmasq-base dnsmasq-utils nftables tgt iproute2 iputils-ping genisoimage procps conntrack"
# The operator's clients (seed.py uses openstacksdk) and the sample
# image's parts (a busybox initramfs around the packaged kernel; mkguest.sh
# takes busybox-static's binary from its .deb when the package is absent).
STACK="python3-openstackclient python3-novaclient python3-glanceclient
  python3-cinderclient linux-image-amd64 cpio curl openssl"
# lvm2: the LVM volume backend's tests (stack.sh's volumes are files);
# installing it, as busybox-static, rebuilds the host's initramfs. novnc:
# the console's page; stack.sh takes its files from the .deb instead of the
# package's Node.js, NumPy and websockify. keepalived:
# bench/hapair_bench.sh's floating address (VRRP) between two controller
# namespaces; a benchmark's, not the stack's.
TEST="$TESTBUILD lvm2 busybox-static novnc
  clang libclang-rt-dev libtsan2 gdb python3-jsonschema python3-msgpack
  python3-zmq tempest python3-stestr wrk jq openssh-client chromium nodejs
  keepalived"
# Debian's npm, unless a node that brings its own (NodeSource) is installed.
command -v npm >/dev/null 2>&1 || TEST="$TEST npm"
[ "$PROFILE" = all ] || TEST=""
[ "$PROFILE" = build ] && RUNTIME="" STACK=""

# The browser test's playwright-core (tests/integ/browser/package-lock.json),
# into that directory's node_modules: no global install, and no browser
# download (the test drives Debian's /usr/bin/chromium).
npm_deps() {
	[ "$PROFILE" = all ] || return 0
	dir=$(cd "$(dirname "$0")/.." && pwd)/tests/integ/browser
	if node -e 'const d = process.argv[1];
	    const want = require(d + "/package-lock.json").packages["node_modules/playwright-core"].version;
	    process.exit(require(d + "/node_modules/playwright-core/package.json").version === want ? 0 : 1)' \
	    "$dir" 2>/dev/null; then
		return 0
	fi
	echo "install-deps: npm ci in $dir"
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
}

# One dpkg-query for every package (one per package cost 10 s of a
# stack.sh re-run under load); a package dpkg does not know is missing.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $BUILD $RUNTIME $STACK $TEST 2>/dev/null |
	awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }')
have=$(echo $installed)
missing=""
for p in $BUILD $RUNTIME $STACK $TEST; do
	case " $have " in *" $p "*) ;; *) missing="$missing $p" ;; esac
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	npm_deps
	exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Installing libvirt-daemon-system without systemd must not try to start it.
if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# An update of the last 15 minutes (a stamp in /run, which a reboot
# clears) is fresh enough: the second of stack.sh's calls (--build, then
# --stack) skips the update the first just made (a minute on a slow mirror).
STAMP=/run/tinystack-install-deps.updated
if [ -z "$(find "$STAMP" -mmin -15 2>/dev/null)" ]; then
	apt-get update -qq
	touch "$STAMP"
fi
# dpkg --force-unsafe-io: no fsync of each unpacked file before its rename
# (the most of dpkg's time on a fresh install). The cost: a power loss
# within seconds of the install can leave some of its files empty (then
# apt-get install --reinstall those packages).
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-unsafe-io $missing
npm_deps

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installing mflow for real, with TAP output, inside the test VM of
# Debian's stock 6.12 kernel (its headers are in /usr/src): the packages
# of `make deb` installed with apt. mflow-dkms first and alone: DKMS
# builds and installs the module for this kernel, sysusers.d makes the
# group mflow, the udev rule gives the nodes to it 0660 so that a member
# (and no one else) uses them, modules-load.d loads the module as at boot
# and the modprobe.d example is valid once uncommented. Then the other
# packages (mflow-tools, mflow-dev, and libmflow0 and python3-mflow when
# the sources have them): mflowctl, the headers, the by-name link. Then
# everything is purged, and `make dkms-add` registers the sources with
# DKMS and `make dkms-remove` takes them away. lintian's verdict on the
# packages (make deb runs it on the host) is checked here too. A DKMS build under emulation takes
# minutes, so make check does it once: the other kernels skip this suite
# (declared in scripts/expected-skips). Measured on stock 6.12 under TCG:
# reading dpkg's database about a minute each for install and purge, the
# build about three, DKMS's checks one more; the suite took 12 minutes
# beside another VM.
# mflow-timeout: 1800
#
# The VM's root is the host's: virtme-ng (without --rw) exports / over 9p
# with QEMU's readonly=on, mounts it ro, and puts overlays with a tmpfs
# upper layer over /etc, /lib, /usr, /var and a few more, so the host
# cannot be written from here. This suite does not rely on that default:
# before installing anything it mounts its own overlays over /etc, /usr
# and /var, and over the running kernel's /lib/modules/<release> (which
# vng links to the unpacked image in the cache), with upper layers in a
# tmpfs of its own; it takes them down at the end, so later suites see the
# root as it was, and everything is gone when the VM powers off.
#
# Needs root, mflow loaded from MFLOW_KO with idle consoles, and the
# sources and packages named in mflow_paths.env (the test build writes
# it). Skips, saying why, on a kernel without headers (the debug kernel).
# Leaves mflow loaded from MFLOW_KO with its defaults.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
OVL=/run/mflow-install-overlays
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=tap.sh
. "$HERE/tap.sh"
build_suite_setup dkms

# overlay DIR [LOWER]: a writable overlay over DIR (lower layer LOWER,
# default DIR itself) with its upper layer in the guest's tmpfs. Each test
# runs in a subshell: the mounts are found again in /proc/mounts by their
# source name, mflow-install*.
overlay() {
	local dir=$1 lower=${2:-$1} tag opts

	tag=$(echo "$dir" | tr / _)
	mkdir -p "$OVL/$tag/upper" "$OVL/$tag/work" "$dir" || return
	opts="lowerdir=$lower,upperdir=$OVL/$tag/upper,workdir=$OVL/$tag/work"
	mount -t overlay -o "xino=off,$opts" "mflow-install$tag" "$dir" ||
		mount -t overlay -o "$opts" "mflow-install$tag" "$dir"
}

# The running kernel's modules directory, before /usr is covered: vng
# links /lib/modules/<release> to the unpacked image package.
MODDIR=$(readlink -f "/lib/modules/$KVER")

setup_overlays() {
	mkdir -p "$OVL" || return
	mount -t tmpfs mflow-install "$OVL" || return
	overlay /etc || return
	overlay /var || return
	overlay /usr || return
	# Only the running kernel in /lib/modules, so DKMS builds for it
	# alone, and of its tree only the index files: the depmod DKMS runs
	# after installing then reads mflow alone rather than decompressing
	# the kernel's 4000 modules, which took over ten minutes here.
	mount -t tmpfs mflow-install-modules /usr/lib/modules || return
	mkdir -p "/usr/lib/modules/$KVER" &&
		cp "$MODDIR"/modules.* "/usr/lib/modules/$KVER/" || return
	# Debian's headers package links build; the image package does not.
	[ -e "/lib/modules/$KVER/build" ] || ln -s "$KDIR" "/lib/modules/$KVER/build"
	# man-db's trigger would rebuild the whole index under emulation
	# (minutes each apt run): the trigger looks for auto-update, which
	# the debconf answer alone only removes at man-db's next configure.
	echo "man-db man-db/auto-update boolean false" | debconf-set-selections
	rm -f /var/lib/man-db/auto-update
	# virtme-ng starts udevd with --resolve-names=never, which would
	# leave every node root's whatever the rules say: run it as a
	# distribution does, resolving group names.
	restart_udevd
}

# restart_udevd [ARGS]: a new udevd, started as virtme-init does.
restart_udevd() {
	local udevd=/usr/lib/systemd/systemd-udevd

	[ -x $udevd ] || udevd=/lib/systemd/systemd-udevd
	udevadm control --exit 2>/dev/null
	$udevd --daemon "$@" </dev/null >/dev/null 2>&1
	udevadm settle
}

teardown_overlays() {
	local d

	for d in $(awk '$1 ~ /^mflow-install/ { print $2 }' /proc/mounts | tac); do
		umount -l "$d" || echo "# cannot unmount $d"
	done
	restart_udevd --resolve-names=never
}

cleanup() {
	dkms remove -m $MOD -v "$MFLOW_VERSION" --all >/dev/null 2>&1
	rm -rf "/usr/src/$MOD-$MFLOW_VERSION" 2>/dev/null
	teardown_overlays
	back_to_test_module
	rm -rf "$WORK"
}

# A copy of the sources for DKMS (the tree itself is read-only here).
copy_sources() {
	mkdir -p "$WORK/src" &&
		cp -r "$MFLOW_SRC"/{Makefile,Kbuild,dkms.conf,module,include,tools} \
			"$WORK/src/"
}

overlays_over_etc_usr_var() {
	setup_overlays || fail "cannot set up the overlays" || return
	touch /usr/.mflow-overlay-probe || fail "/usr not writable" || return
	grep " overlay " /proc/mounts | grep mflow-install
}

# make dkms-add copies the sources to /usr/src/mflow-<version> and
# registers them; make dkms-remove undoes both. (The build DKMS then runs
# is the one the package has just had.)
make_dkms_add_and_remove() {
	local ver=$MFLOW_VERSION

	copy_sources || return
	make -s -C "$WORK/src" dkms-add DKMS_KERNEL="$KVER" \
		>"$WORK/dkms.log" 2>&1 || fail "make dkms-add: $(cat "$WORK/dkms.log")" ||
		return
	dkms status -m $MOD
	dkms status -m $MOD -v "$ver" | grep -q ": added" ||
		fail "dkms status: $(dkms status -m $MOD)" || return
	cmp "$WORK/src/module/mflow_core.c" "/usr/src/$MOD-$ver/module/mflow_core.c" ||
		fail "/usr/src/$MOD-$ver is not a copy of the sources" || return
	make -s -C "$WORK/src" dkms-remove >>"$WORK/dkms.log" 2>&1 ||
		fail "make dkms-remove: $(cat "$WORK/dkms.log")" || return
	[ -z "$(dkms status -m $MOD)" ] || fail "dkms still lists $MOD" || return
	[ ! -e "/usr/src/$MOD-$ver" ] || fail "/usr/src/$MOD-$ver left behind"
}

# deb NAME: the package NAME of make deb, for this architecture or all.
deb() {
	ls "$MFLOW_DEB_DIR/$1"_*_"$(dpkg --print-architecture)".deb \
		"$MFLOW_DEB_DIR/$1"_*_all.deb 2>/dev/null | head -n 1
}

# The packages make deb must have built from these sources.
other_packages() {
	echo mflow-tools mflow-dev
	[ ! -f "$MFLOW_SRC/lib/Makefile" ] || echo libmflow0
	[ ! -f "$MFLOW_SRC/bindings/python/Makefile" ] || echo python3-mflow
}

lintian_clean_on_the_host() {
	[ -f "$MFLOW_DEB_DIR/lintian.log" ] ||
		fail "no lintian.log in $MFLOW_DEB_DIR (make deb runs lintian)" || return
	cat "$MFLOW_DEB_DIR/lintian.log"
	! grep -E '^[EW]: ' "$MFLOW_DEB_DIR/lintian.log" ||
		fail "lintian reports errors or warnings" || return
	ls "$MFLOW_DEB_DIR"/mflow_*.dsc >/dev/null ||
		fail "make deb built no source package"
}

apt_installs_the_dkms_package_alone() {
	local d

	d=$(deb mflow-dkms)
	[ -n "$d" ] || fail "no mflow-dkms package in $MFLOW_DEB_DIR (make deb)" ||
		return
	rmmod $MOD || return
	echo "group mflow before: $(getent group mflow || echo none)"
	# No network here: apt must find every dependency installed already.
	apt-get install -y "$d" >"$WORK/apt.log" 2>&1 ||
		fail "apt-get install: $(tail -n 30 "$WORK/apt.log")" || return
	grep -E "^(Setting up|Unpacking|Building|Installing|Running|Deleting|Loading|Preparing)|dkms|DKMS|sysusers" \
		"$WORK/apt.log" | head -n 30
	dkms status -m $MOD | grep -q "$KVER.*installed" ||
		fail "dkms status: $(dkms status -m $MOD)" || return
	getent group mflow || fail "no group mflow (sysusers.d)" || return
	grep -v '^#' /usr/lib/sysusers.d/mflow.conf
	! command -v mflowctl || fail "mflowctl came with mflow-dkms" || return
	man -w 4 mflow || fail "no mflow(4)" || return
	[ -f /usr/share/doc/mflow-dkms/docs/README.md ] ||
		fail "no docs in /usr/share/doc/mflow-dkms" || return
	modprobe $MOD || fail "modprobe $MOD" || return
	udevadm settle
}

# R18: who may use the nodes is decided by their permissions, which the
# rule of mflow-dkms gives to group mflow.
R18_dkms_package_alone_gives_group_nodes() {
	local n got

	[ -d /sys/module/$MOD ] || fail "mflow not loaded" || return
	for n in /dev/${MOD}0 /dev/${MOD}2 /dev/mflow-control; do
		stat -c '%n %U %G %a' "$n"
		[ "$(stat -c '%G %a' "$n")" = "mflow 660" ] ||
			fail "$n: $(stat -c '%G %a' "$n"), want mflow 660" || return
	done
	useradd --no-create-home --groups mflow mflowuser || return
	useradd --no-create-home mflowother || return
	runuser -u mflowuser -- sh -c "printf 'from a member' > /dev/${MOD}2" ||
		fail "a member of mflow cannot write /dev/${MOD}2" || return
	got=$(timeout 60 cat /dev/${MOD}2)
	[ "$got" = "from a member" ] || fail "read back '$got'" || return
	! runuser -u mflowother -- sh -c ": <> /dev/${MOD}2" 2>&1 ||
		fail "a user outside mflow opened /dev/${MOD}2"
}

modules_load_d_loads_it_modprobe_d_example_valid() {
	local f=/etc/modprobe.d/mflow.conf

	grep -qx mflow /usr/lib/modules-load.d/mflow.conf ||
		fail "modules-load.d: $(cat /usr/lib/modules-load.d/mflow.conf)" ||
		return
	# What runs at boot, run now.
	rmmod $MOD || return
	/lib/systemd/systemd-modules-load /usr/lib/modules-load.d/mflow.conf ||
		fail "systemd-modules-load failed" || return
	[ -d /sys/module/$MOD ] || fail "modules-load.d did not load mflow" ||
		return
	# The example changes nothing until uncommented, then works.
	! grep -v '^#' "$f" | grep -q . || fail "$f sets something" || return
	[ "$(cat /sys/module/$MOD/parameters/consoles)" = 4 ] ||
		fail "consoles=$(cat /sys/module/$MOD/parameters/consoles)" || return
	grep '^#options' "$f" || fail "no options example in $f" || return
	sed -i 's/^#options/options/' "$f" || return
	rmmod $MOD && modprobe $MOD || fail "modprobe with the example" || return
	grep -H . /sys/module/$MOD/parameters/*
	[ "$(cat /sys/module/$MOD/parameters/consoles)" = 8 ] ||
		fail "the example's consoles=8 did not apply" || return
	sed -i 's/^options/#options/' "$f" && rmmod $MOD && modprobe $MOD &&
		udevadm settle
}

apt_installs_the_other_packages() {
	local p d debs=

	for p in $(other_packages); do
		d=$(deb "$p")
		[ -n "$d" ] || fail "no $p package in $MFLOW_DEB_DIR (make deb)" ||
			return
		debs="$debs $d"
	done
	# shellcheck disable=SC2086 # one path a package
	apt-get install -y $debs >"$WORK/apt2.log" 2>&1 ||
		fail "apt-get install: $(tail -n 30 "$WORK/apt2.log")" || return
	grep -E "^(Setting up|Unpacking)" "$WORK/apt2.log"
	# /bin is /usr/bin on a merged-/usr system, and may come first.
	[ "$(readlink -f "$(command -v mflowctl)")" = /usr/bin/mflowctl ] ||
		fail "mflowctl not on PATH: $(command -v mflowctl)" || return
	mflowctl --version || fail "mflowctl --version" || return
	man -w mflowctl || fail "no man page" || return
	dpkg -S /usr/include/linux/mflow.h | grep -q '^mflow-dev:' ||
		fail "<linux/mflow.h> is not mflow-dev's: $(dpkg -S /usr/include/linux/mflow.h)" ||
		return
	ls /usr/share/doc/mflow-dev/examples/
	if other_packages | grep -qx libmflow0; then
		ls -l /usr/lib/*/libmflow.so* /usr/include/mflow/mflow.h || return
		pkg-config --modversion mflow || fail "pkg-config mflow" || return
	fi
	if other_packages | grep -qx python3-mflow; then
		python3 -c 'import mflow; print(mflow.__file__)' ||
			fail "python3 cannot import mflow" || return
	fi
}

R17_udev_rule_group_mode_and_by_name() {
	local n dev

	[ -d /sys/module/$MOD ] || fail "mflow not loaded" || return
	udevadm settle
	for n in /dev/${MOD}0 /dev/${MOD}3 /dev/mflow-control; do
		[ -e "$n" ] || continue
		stat -c '%n %G %a' "$n"
		[ "$(stat -c '%G %a' "$n")" = "mflow 660" ] ||
			fail "$n: $(stat -c '%G %a' "$n"), want mflow 660" || return
	done
	if [ ! -e /dev/mflow-control ]; then
		echo "SKIP: this module has no control device, so no named console"
		return 4
	fi
	dev=$(mflowctl add --name by-name-test) || fail "mflowctl add" || return
	udevadm settle
	ls -l /dev/mflow/by-name/
	[ "$(readlink -f /dev/mflow/by-name/by-name-test)" = "$dev" ] ||
		fail "/dev/mflow/by-name/by-name-test does not lead to $dev" ||
		return
	mflowctl del by-name-test || return
	udevadm settle
	[ ! -e /dev/mflow/by-name/by-name-test ] || fail "stale by-name link"
}

apt_purge_removes_everything() {
	local f

	rmmod $MOD || return
	# shellcheck disable=SC2046 # one word a package
	apt-get purge -y mflow-dkms $(other_packages) >"$WORK/purge.log" 2>&1 ||
		fail "apt-get purge: $(tail -n 20 "$WORK/purge.log")" || return
	grep -E "^(Removing|Purging)|dkms|DKMS" "$WORK/purge.log" | head -n 10
	[ -z "$(dkms status -m $MOD)" ] || fail "dkms still lists $MOD" || return
	! ls "/lib/modules/$KVER"/updates/dkms/mflow.ko* 2>/dev/null ||
		fail "module left behind" || return
	for f in /usr/bin/mflowctl /usr/include/linux/mflow.h \
		/usr/lib/udev/rules.d/60-mflow.rules \
		/usr/lib/sysusers.d/mflow.conf /usr/lib/modules-load.d/mflow.conf \
		/etc/modprobe.d/mflow.conf "/usr/src/$MOD-$MFLOW_VERSION"; do
		[ ! -e "$f" ] || fail "$f left behind" || return
	done
	back_to_test_module
}

# After cleanup: the rule came with the overlays, and went with them.
nodes_root_0600_once_the_overlays_are_gone() {
	stat -c '%n %U %G %a' /dev/${MOD}0
	[ "$(stat -c '%U %G %a' /dev/${MOD}0)" = "root root 600" ] ||
		fail "/dev/${MOD}0 is not root's 0600 any more" || return
	[ ! -e /usr/lib/udev/rules.d/60-mflow.rules ] ||
		fail "the rule is still there" || return
	! grep -q '^mflow-install' /proc/mounts || fail "overlays left mounted"
}

need_root
case "$KVER" in
*-rt-*) ;;
6.12.*) DKMS_HERE=1 ;;
esac
if [ -z "${DKMS_HERE:-}" ]; then
	skip_suite "one DKMS build per make check, in the stock 6.12 VM"
fi
if [ ! -f "$KDIR/Makefile" ]; then
	skip_suite "no headers for $KVER in $KDIR (not a Debian stock kernel)"
fi
if [ -z "${MFLOW_KO:-}" ] || [ -z "${MFLOW_SRC:-}" ] ||
	[ -z "${MFLOW_DEB_DIR:-}" ]; then
	skip_suite "needs MFLOW_KO and mflow_paths.env"
fi
trap cleanup EXIT
# Killed by guest-run's timeout: still restore the module and the root.
trap 'exit 143' TERM INT

echo "1..10"
run_test lintian_clean_on_the_host
run_test overlays_over_etc_usr_var
run_test apt_installs_the_dkms_package_alone
run_test R18_dkms_package_alone_gives_group_nodes
run_test modules_load_d_loads_it_modprobe_d_example_valid
run_test apt_installs_the_other_packages
run_test R17_udev_rule_group_mode_and_by_name
run_test apt_purge_removes_everything
run_test make_dkms_add_and_remove
# The overlays come down here, so the host's root shows again.
cleanup
trap - EXIT
run_test nodes_root_0600_once_the_overlays_are_gone
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]

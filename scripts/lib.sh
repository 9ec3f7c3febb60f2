# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared settings for mflow's scripts: where caches live and which kernels
# make up the test matrix. Sourced, never run.

MFLOW_ROOT=${MFLOW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MFLOW_CACHE=${MFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mflow}
MFLOW_OUT=${MFLOW_OUT:-$MFLOW_ROOT/out}

# Kernels of the matrix: "debug" is built from linux-source-6.12 with the
# fragment in scripts/kernel/debug.config; the stock ones are Debian's own:
#   stock-5.10     bullseye's 5.10            (private apt state)
#   stock-6.1      bookworm's 6.1
#   stock-6.12     bookworm's 6.12
#   stock-6.12-rt  bookworm's 6.12 PREEMPT_RT
#   stock-7        the newest 7.x of trixie-backports and sid (private apt)
# make check boots MFLOW_KERNELS; make check-matrix (MFLOW_MATRIX=all)
# boots every one of MFLOW_ALL_KERNELS. "kcsan", the debug kernel with
# KCSAN instead of KASAN, is only booted by make check-kcsan.
MFLOW_DEFAULT_KERNELS="debug stock-6.1 stock-6.12 stock-6.12-rt"
MFLOW_ALL_KERNELS="debug stock-5.10 stock-6.1 stock-6.12 stock-6.12-rt stock-7"
if [ "${MFLOW_MATRIX:-}" = all ]; then
	MFLOW_KERNELS=${MFLOW_KERNELS:-$MFLOW_ALL_KERNELS}
fi
MFLOW_KERNELS=${MFLOW_KERNELS:-$MFLOW_DEFAULT_KERNELS}

# Stock kernels follow the archive: a kernel release looked up there is
# looked up again once older than MFLOW_ARCHIVE_AGE seconds (default a
# day), or at once with MFLOW_REFRESH=1; MFLOW_OFFLINE=1 never looks and
# uses what the cache has. MFLOW_PIN_<KERNEL> (e.g.
# MFLOW_PIN_STOCK_6_12=6.12.48+deb12-amd64) pins one to a release, for
# reproducing an old result; the archive must still serve it.
MFLOW_ARCHIVE_AGE=${MFLOW_ARCHIVE_AGE:-86400}

log() { printf '[mflow] %s\n' "$*" >&2; }
die() { printf '[mflow] error: %s\n' "$*" >&2; exit 1; }

# offline: whether MFLOW_OFFLINE asks not to use the network.
offline() {
	case "${MFLOW_OFFLINE:-0}" in
	0 | "") return 1 ;;
	1) return 0 ;;
	*) die "MFLOW_OFFLINE must be 0 or 1, not '$MFLOW_OFFLINE'" ;;
	esac
}

# stale FILE: whether a release recorded in FILE should be looked up in
# the archive again (missing, MFLOW_REFRESH=1, or older than
# MFLOW_ARCHIVE_AGE). Never stale offline unless missing.
stale() {
	[ -s "$1" ] || return 0
	offline && return 1
	[ -n "${MFLOW_REFRESH:-}" ] && return 0
	[ $(($(date +%s) - $(stat -c %Y "$1"))) -ge "$MFLOW_ARCHIVE_AGE" ]
}

# pin_of NAME: the release MFLOW_PIN_<NAME> pins NAME to, or nothing.
pin_of() {
	local v
	v=MFLOW_PIN_$(echo "$1" | tr 'a-z.-' 'A-Z__')
	echo "${!v:-}"
}

# stock_meta NAME: the bookworm meta package behind a stock kernel, or
# nothing for those fetched through a private apt state (stock_suites).
stock_meta() {
	case "$1" in
	stock-6.1) echo linux-image-amd64 ;;
	stock-6.12) echo linux-image-6.12-amd64 ;;
	stock-6.12-rt) echo linux-image-6.12-rt-amd64 ;;
	stock-5.10 | stock-7) ;;
	*) die "unknown stock kernel '$1'" ;;
	esac
}

# kernel_make_args NAME: more make arguments for building against NAME's
# tree. The headers compile-matrix unpacks (stock-5.10, stock-7) were made
# by another gcc than bookworm's and name it (gcc-10, gcc-14): build with
# bookworm's gcc, and without module BTF, as compile-matrix does.
kernel_make_args() {
	case "$1" in
	stock-*) [ -n "$(stock_meta "$1")" ] ||
		echo "CC=gcc CONFIG_DEBUG_INFO_BTF_MODULES=" ;;
	esac
}

# stock_suites NAME: the Debian suites a private-state kernel comes from;
# the newest kernel among them is used.
stock_suites() {
	case "$1" in
	stock-5.10) echo bullseye ;;
	stock-7) echo trixie-backports sid ;;
	esac
}

# stock_version NAME: the Debian kernel release (uname -r) scripts/setup
# chose for a stock kernel and recorded in the cache.
stock_version() {
	stock_meta "$1" >/dev/null
	[ -s "$MFLOW_CACHE/$1.version" ] ||
		die "no release recorded for $1; run scripts/setup"
	cat "$MFLOW_CACHE/$1.version"
}

# kernel_image NAME / kernel_kdir NAME: what vng boots and what the module
# builds against.
kernel_image() {
	case "$1" in
	debug) echo "$MFLOW_CACHE/kernel/debug" ;;
	kcsan) echo "$MFLOW_CACHE/kernel-kcsan/kcsan" ;;
	stock-*) echo "$MFLOW_CACHE/$1/boot/vmlinuz-$(stock_version "$1")" ;;
	*) die "unknown kernel '$1'" ;;
	esac
}

kernel_kdir() {
	local ver
	case "$1" in
	debug) echo "$MFLOW_CACHE/kernel/debug" ;;
	kcsan) echo "$MFLOW_CACHE/kernel-kcsan/kcsan" ;;
	stock-*)
		ver=$(stock_version "$1")
		if [ -n "$(stock_meta "$1")" ]; then
			echo "/usr/src/linux-headers-$ver"
		else
			# Unpacked by scripts/compile-matrix --image.
			echo "$MFLOW_CACHE/headers/${ver%-amd64}/root/usr/src/linux-headers-$ver"
		fi
		;;
	*) die "unknown kernel '$1'" ;;
	esac
}

# The unpacked linux-source-6.12 tree (checkpatch, kselftest harness, and
# the base of the debug kernel).
source_tree() {
	local t
	t=$(ls -d "$MFLOW_CACHE"/src/linux-source-6.12 2>/dev/null | head -n 1)
	[ -n "$t" ] || die "linux-source-6.12 not unpacked; run scripts/setup"
	echo "$t"
}

# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared settings for mflow's scripts: where caches live and which kernels
# make up the test matrix. Sourced, never run.

MFLOW_ROOT=${MFLOW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MFLOW_CACHE=${MFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mflow}
MFLOW_OUT=${MFLOW_OUT:-$MFLOW_ROOT/out}

# Kernels of the matrix: "debug" is built from linux-source-6.12 with the
# fragment in scripts/kernel/debug.config; the stock ones are Debian's own.
MFLOW_KERNELS=${MFLOW_KERNELS:-"debug stock-6.1 stock-6.12"}

log() { printf '[mflow] %s\n' "$*" >&2; }
die() { printf '[mflow] error: %s\n' "$*" >&2; exit 1; }

# stock_version NAME: the Debian kernel release behind stock-6.1/stock-6.12,
# read from the meta package so it follows the archive's current build.
stock_version() {
	local meta
	case "$1" in
	stock-6.1) meta=linux-image-amd64 ;;
	stock-6.12) meta=linux-image-6.12-amd64 ;;
	*) die "unknown stock kernel '$1'" ;;
	esac
	if [ -s "$MFLOW_CACHE/$1.version" ]; then
		cat "$MFLOW_CACHE/$1.version"
		return
	fi
	apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | head -n 1
}

# kernel_image NAME / kernel_kdir NAME: what vng boots and what the module
# builds against.
kernel_image() {
	case "$1" in
	debug) echo "$MFLOW_CACHE/kernel/debug" ;;
	stock-*) echo "$MFLOW_CACHE/$1/boot/vmlinuz-$(stock_version "$1")" ;;
	*) die "unknown kernel '$1'" ;;
	esac
}

kernel_kdir() {
	case "$1" in
	debug) echo "$MFLOW_CACHE/kernel/debug" ;;
	stock-*) echo "/usr/src/linux-headers-$(stock_version "$1")" ;;
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

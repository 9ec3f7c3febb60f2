#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mflow at scale, with TAP output (R15): consoles=4096 all connected with
# traffic, a 64 MiB fifo filled both ways, the kernel's memory back where
# it was after each, and repeated load/use/unload cycles for the kmemleak
# scan that follows the suites. The tests live in mflow_params.sh (they
# share its helpers); this suite runs them on their own, after it, so
# that each has the runner's whole time limit. Needs what mflow_params.sh
# needs (root, MFLOW_KO) and leaves mflow loaded with its defaults.

exec "$(dirname "$0")/mflow_params.sh" --scale

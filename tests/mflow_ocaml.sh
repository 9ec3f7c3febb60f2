#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The OCaml binding (bindings/ocaml) against the module, with TAP output:
# mflow_ocaml_test, built on the host by the test build, runs a
# Mirage-style echo server and client written against Mirage_flow.S
# alone (4 MiB each way, the half-close, `Eof, `Closed after the peer
# detaches) and the close handshake against the console signature, then
# the example of docs/ocaml.md (ocaml-example, built against the library
# as dune installs it).
#
# Needs root and mflow loaded with its consoles idle; uses /dev/mflow0
# (MFLOW_CONSOLE=N for another).

HERE=$(cd "$(dirname "$0")" && pwd)

for f in mflow_ocaml_test ocaml-example; do
	if [ ! -x "$HERE/$f" ]; then
		echo "1..1"
		echo "not ok 1 $f is missing: the test build did not make it"
		exit 1
	fi
done
exec "$HERE/mflow_ocaml_test"

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""mflow under Python's asyncio, as an event-loop program drives it.

The default event loop on Linux (selectors.EpollSelector) is level-
triggered. Both endpoints of one console run in one loop through
loop.add_reader()/add_writer() only, with O_NONBLOCK fds:

  1. 4 MiB each way at once, byte-exact;
  2. the client half-closes (MFLOW_IOC_SHUTDOWN, SHUT_WR) and waits for
     the server's answer while the server stays quiet: its reader callback
     is called at most a few times over the quiet window, then once more
     for the answer;
  3. the close handshake (MFLOW_IOC_CLOSE, EAGAIN, wait for EPOLLHUP)
     while the server stays quiet, then completes once the server closes;
  4. the asyncio example of docs/event-loops.md, run as it is printed.

Prints TAP. Needs root (or the mflow group), mflow loaded, console
MFLOW_CONSOLE (default 0) idle.
"""
import asyncio
import errno
import fcntl
import os
import re
import struct
import subprocess
import sys
import time

MIB4 = 4 << 20
QUIET = 0.5
# A loop that spins calls its reader thousands of times in QUIET seconds;
# a sleeping one not at all. A few calls are allowed for real events.
MAX_QUIET_CALLS = 2


def _iow(nr, size):
    """asm-generic _IOW(MFLOW_IOC_MAGIC, nr, size)."""
    return (1 << 30) | (size << 16) | (0xE3 << 8) | nr


MFLOW_IOC_SHUTDOWN = _iow(1, 4)
MFLOW_IOC_CLOSE = _iow(2, 16)
MFLOW_SHUT_WR = 1


def shutdown_wr(fd):
    fcntl.ioctl(fd, MFLOW_IOC_SHUTDOWN, struct.pack("I", MFLOW_SHUT_WR))


def close_nowait(fd):
    """MFLOW_IOC_CLOSE on an O_NONBLOCK fd: True once the peer closed."""
    try:
        fcntl.ioctl(fd, MFLOW_IOC_CLOSE, struct.pack("QII", 0, 0, 0))
        return True
    except BlockingIOError:
        return False


def pattern(seed, n):
    block = bytes((seed * 7 + i * 13) & 0xFF for i in range(251))
    return (block * (n // len(block) + 1))[:n]


class Endpoint:
    """One endpoint driven by reader/writer callbacks, as a protocol."""

    def __init__(self, loop, fd, name):
        self.loop, self.fd, self.name = loop, fd, name
        self.out = b""
        self.sent = 0
        self.got = bytearray()
        self.eof = False
        self.reader_calls = 0
        self.events = asyncio.Queue()

    def send(self, data):
        self.out = data
        self.sent = 0
        self.done_sending = self.loop.create_future()
        self.loop.add_writer(self.fd, self._writable)

    def _writable(self):
        try:
            n = os.write(self.fd, self.out[self.sent:self.sent + 65536])
        except BlockingIOError:
            return
        self.sent += n
        if self.sent == len(self.out):
            self.loop.remove_writer(self.fd)
            self.done_sending.set_result(True)

    def start_reading(self):
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self):
        self.reader_calls += 1
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.eof = True
            self.loop.remove_reader(self.fd)
        else:
            self.got += data
        self.events.put_nowait(len(data))

    async def wait_for(self, cond, timeout=60):
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(self.name + ": timed out")
            try:
                await asyncio.wait_for(self.events.get(), left)
            except asyncio.TimeoutError:
                pass

    async def close_handshake(self):
        """ioctl -> EAGAIN -> wait for the reader callback -> ioctl."""
        if close_nowait(self.fd):
            return 0
        calls = 0
        hup = self.loop.create_future()

        def ready():
            nonlocal calls
            calls += 1
            if close_nowait(self.fd) and not hup.done():
                hup.set_result(True)

        self.loop.add_reader(self.fd, ready)
        try:
            await asyncio.wait_for(hup, 60)
        finally:
            self.loop.remove_reader(self.fd)
        return calls


results = []


def report(ok, name, diag=""):
    results.append(ok)
    for line in diag.splitlines():
        print("# " + line)
    print("%s %d %s" % ("ok" if ok else "not ok", len(results), name),
          flush=True)


async def session(path):
    loop = asyncio.get_running_loop()
    fds = [os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
           for _ in range(2)]
    cli, srv = Endpoint(loop, fds[0], "client"), Endpoint(loop, fds[1],
                                                          "server")
    up, down = pattern(1, MIB4), pattern(2, MIB4)

    # 1. 4 MiB each way at once.
    cli.start_reading()
    srv.start_reading()
    cli.send(up)
    srv.send(down)
    await asyncio.gather(cli.done_sending, srv.done_sending)
    await srv.wait_for(lambda: len(srv.got) >= MIB4)
    await cli.wait_for(lambda: len(cli.got) >= MIB4)
    report(bytes(srv.got) == up and bytes(cli.got) == down,
           "R2_R5_asyncio_4MiB_each_way_intact",
           "client got %d, server got %d bytes" % (len(cli.got),
                                                   len(srv.got)))

    # 2. The client half-closes and waits; the server sees EOF and stays
    # quiet for QUIET seconds before it answers.
    shutdown_wr(cli.fd)
    await srv.wait_for(lambda: srv.eof)
    before = cli.reader_calls
    await asyncio.sleep(QUIET)
    quiet_calls = cli.reader_calls - before
    srv.send(b"answer")
    await srv.done_sending
    await cli.wait_for(lambda: bytes(cli.got[MIB4:]) == b"answer")
    report(quiet_calls <= MAX_QUIET_CALLS and srv.eof and not cli.eof,
           "R8_R11_asyncio_half_close_waits_quietly",
           "client reader called %d times in %.1f s of quiet"
           % (quiet_calls, QUIET))

    # 3. The close handshake: the client closes while the server stays
    # quiet, then the server closes too.
    cli.loop.remove_reader(cli.fd)
    client_close = asyncio.ensure_future(cli.close_handshake())
    await asyncio.sleep(QUIET)
    early = client_close.done()
    server_first = close_nowait(srv.fd)
    calls = await client_close
    report(not early and server_first and calls <= MAX_QUIET_CALLS + 1,
           "R9_R11_asyncio_close_handshake_waits_quietly",
           "client close callback called %d times; done early: %s"
           % (calls, early))
    for fd in fds:
        os.close(fd)


def docs_example(path):
    """Run the asyncio example of docs/event-loops.md against @path."""
    name = "R8_R9_docs_event_loops_asyncio_example_runs"
    env = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "mflow_paths.env")
    try:
        with open(env) as f:
            src = dict(l.strip().split("=", 1) for l in f if "=" in l)
        doc = os.path.join(src["MFLOW_SRC"], "docs", "event-loops.md")
        with open(doc) as f:
            text = f.read()
    except (OSError, KeyError) as e:
        report(False, name, "cannot read the docs: %s" % e)
        return
    section = text.split("## asyncio", 1)[-1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    if not m:
        report(False, name, "no python block under '## asyncio' in " + doc)
        return
    try:
        r = subprocess.run([sys.executable, "-c", m.group(1), path],
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        report(False, name, "the example did not end within 60 s")
        return
    report(r.returncode == 0 and r.stdout == "pong: ping\n", name,
           "exit %d, stdout %r, stderr %r" % (r.returncode, r.stdout,
                                              r.stderr[-500:]))


NAMES = ("R2_R5_asyncio_4MiB_each_way_intact",
         "R8_R11_asyncio_half_close_waits_quietly",
         "R9_R11_asyncio_close_handshake_waits_quietly")


def main():
    console = int(os.environ.get("MFLOW_CONSOLE", "0"))
    path = "/dev/mflow%d" % console
    print("1..4", flush=True)
    if not os.path.exists(path):
        for name in NAMES + ("R8_R9_docs_event_loops_asyncio_example_runs",):
            report(False, name, path + " missing: is mflow loaded?")
        return 1
    loop = asyncio.new_event_loop()
    print("# selector: %s" % type(loop._selector).__name__)
    try:
        loop.run_until_complete(asyncio.wait_for(session(path), 240))
    except Exception as e:  # a failure to report, not to hide
        print("# %s: %s" % (type(e).__name__, e))
        while len(results) < 3:
            report(False, NAMES[len(results)], "the session did not complete")
    finally:
        loop.close()
    docs_example(path)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The Python package mflow (bindings/python) against the module, with TAP
# output: its calls (open, info, stats, shutdown, close_wait, add, remove,
# query) and mflow.aio's streams on asyncio's default (level-triggered)
# event loop: 4 MiB each way byte for byte, the half-close, the close
# handshake started by either endpoint or both, EPIPE as BrokenPipeError,
# EOF after a detach; and the example of docs/python.md.
#
# Needs root and mflow loaded with its consoles idle; uses /dev/mflow0
# (MFLOW_CONSOLE=N for another) and adds and removes one console.
# MFLOW_CASES=NAME,... runs only the cases named. The
# package comes from python/ beside this file (the test build puts it
# there), else from the system.

import asyncio
import errno
import os
import random
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.isdir(os.path.join(HERE, 'python', 'mflow')):
    sys.path.insert(0, os.path.join(HERE, 'python'))

import mflow  # noqa: E402
import mflow.aio  # noqa: E402

CONSOLE = f'/dev/mflow{os.environ.get("MFLOW_CONSOLE", "0")}'
# A case that takes longer than this has hung: it fails, the next runs.
CASE_SECS = 120
MIB4 = 4 << 20

tests = []


def case(fn):
    tests.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def expect_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise Fail(f'{fn.__name__}{args}: no {exc_type.__name__}')


async def aexpect_raises(exc_type, aw, what):
    try:
        await aw
    except exc_type as e:
        return e
    raise Fail(f'{what}: no {exc_type.__name__}')


class Pair:
    """Both endpoints of CONSOLE, as plain descriptors."""

    def __enter__(self):
        self.a = mflow.open(CONSOLE)
        self.b = mflow.open(CONSOLE)
        return self

    def __exit__(self, *exc):
        os.close(self.a)
        os.close(self.b)


# The writers a case opened: the runner aborts them when it ends.
opened = []


async def apair():
    ra, wa = await mflow.aio.open_connection(CONSOLE)
    opened.append(wa)
    rb, wb = await mflow.aio.open_connection(CONSOLE)
    opened.append(wb)
    return (ra, wa), (rb, wb)


async def aclose(*writers):
    for w in writers:
        w.close()
    for w in writers:
        await w.wait_closed()


async def read_all(reader):
    chunks = []
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def same(got, want, what):
    if got == want:
        return
    n = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y),
             min(len(got), len(want)))
    raise Fail(f'{what}: {len(got)} bytes, want {len(want)}; first '
               f'difference at offset {n}')


# ---- the synchronous calls

@case
def R1_R13_open_attaches_both_endpoints_and_info_names_them():
    with Pair() as p:
        ia, ib = mflow.info(p.a), mflow.info(p.b)
        check((ia.endpoint, ib.endpoint) == (0, 1),
              f'endpoints {ia.endpoint}, {ib.endpoint}')
        check(ia.console == ib.console == int(CONSOLE[len('/dev/mflow'):]),
              f'console {ia.console}')
        check(ia.connection == ib.connection and ia.connection > 0,
              'one connection')
        check(ia.flags & mflow.MFLOW_INFO_PEER_ATTACHED, 'peer attached')
        e = expect_raises(OSError, mflow.open, CONSOLE)
        check(e.errno == errno.EBUSY, f'third open: {e}')
        for spelling in ('', None):
            expect_raises((ValueError, TypeError), mflow.open, spelling)


@case
def R5_R12_R13_write_read_and_the_counters():
    data = random.Random(1).randbytes(3000)
    with Pair() as p:
        check(os.write(p.a, data) == len(data), 'whole write')
        check(mflow.outq(p.a) == len(data), 'outq before the read')
        got = os.read(p.b, 65536)
        same(got, data, 'read')
        sa, sb = mflow.stats(p.a), mflow.stats(p.b)
        check((sa.write_bytes, sa.write_ops) == (3000, 1), f'{sa}')
        check((sb.read_bytes, sb.read_ops) == (3000, 1), f'{sb}')
        check(mflow.outq(p.a) == 0, 'outq after the read')


@case
def R8_R4_R7_shutdown_write_gives_eof_and_epipe():
    with Pair() as p:
        os.write(p.a, b'last')
        mflow.shutdown(p.a, mflow.SHUT_WR)
        check(mflow.info(p.a).flags & mflow.MFLOW_INFO_WR_SHUT, 'WR_SHUT')
        check(mflow.info(p.b).flags & mflow.MFLOW_INFO_PEER_WR_SHUT,
              'PEER_WR_SHUT')
        check(os.read(p.b, 100) == b'last', 'in-flight data first')
        check(os.read(p.b, 100) == b'', 'then EOF')
        expect_raises(BrokenPipeError, os.write, p.a, b'x')
        os.write(p.b, b'back')
        check(os.read(p.a, 100) == b'back', 'the other way still flows')


@case
def R9_close_wait_timeout_nonblock_and_both_sides():
    with Pair() as p:
        expect_raises(TimeoutError, mflow.close_wait, p.a, timeout=0.05)
        check(os.read(p.b, 10) == b'', 'the peer reads EOF')
        os.set_blocking(p.a, False)
        expect_raises(BlockingIOError, mflow.close_wait, p.a)
        mflow.close_wait(p.b)   # a has closed: returns at once
        mflow.close_wait(p.a)   # b has closed now
        mflow.close_wait(p.a)   # idempotent


@case
def R16_R17_add_open_by_name_query_remove():
    name = 'py-binding.test'
    for bad in ('', '123', 'mflow7', '-x', 'a' * 32, 'sp ace'):
        expect_raises(ValueError, mflow.add, bad)
    index = mflow.add(name, fifo_size=8192)
    try:
        e = expect_raises(FileExistsError, mflow.add, name)
        check(e.errno == errno.EEXIST, f'{e}')
        a = mflow.open(name)
        try:
            i = mflow.info(a)
            check(i.console == index, f'console {i.console}, want {index}')
            check(i.fifo_size == 8192, f'fifo_size {i.fifo_size}')
            q = mflow.query(name)
            check((q.index, q.name, q.state, q.attached) ==
                  (index, name, mflow.MFLOW_STATE_CONNECTED, 1), f'{q}')
            e = expect_raises(OSError, mflow.remove, name)
            check(e.errno == errno.EBUSY, f'remove while open: {e}')
        finally:
            os.close(a)
        q = mflow.query(index)
        check(q.attached == 0, f'no endpoint attached after the close: {q}')
    finally:
        mflow.remove(name)
    expect_raises(OSError, mflow.query, name)
    expect_raises(FileNotFoundError, mflow.open, name)


# ---- mflow.aio

@case
async def R5_R4_aio_4MiB_each_way_byte_exact():
    (ra, wa), (rb, wb) = await apair()
    rng = random.Random(4)
    data_a, data_b = rng.randbytes(MIB4), rng.randbytes(MIB4)

    async def send(w, data):
        pos = 0
        while pos < len(data):
            n = rng.randint(1, 300000)
            w.write(data[pos:pos + n])
            await w.drain()
            pos += n
        w.write_eof()

    got = await asyncio.gather(send(wa, data_a), send(wb, data_b),
                               read_all(ra), read_all(rb))
    same(got[3], data_a, 'a to b')
    same(got[2], data_b, 'b to a')
    sa = mflow.stats(wa.fileno())
    check(sa.write_bytes == MIB4 and sa.read_bytes == MIB4, f'{sa}')
    await aclose(wa, wb)


@case
async def R8_R4_aio_write_eof_is_the_half_close():
    (ra, wa), (rb, wb) = await apair()
    wa.write(b'ping')
    wa.write_eof()
    check(wa.can_write_eof(), 'can_write_eof')
    check(await read_all(rb) == b'ping', 'b reads ping, then EOF')
    check(mflow.info(wa.fileno()).flags & mflow.MFLOW_INFO_WR_SHUT,
          'a is shut for writing')
    expect_raises(RuntimeError, wa.write, b'late')
    wb.write(b'pong')
    await wb.drain()
    check(await ra.readexactly(4) == b'pong', 'a still reads')
    wb.write_eof()
    check(await ra.read() == b'', 'a reads EOF')
    check(ra.at_eof(), 'at_eof')
    await aclose(wa, wb)


async def handshake_started_by(first, second):
    (r1, w1), (r2, w2) = first, second
    w1.write(b'bye')
    closing = asyncio.ensure_future(w1.close_wait())
    # The loop runs on while first waits: second reads first's bytes and
    # EOF, and answers; first reads the answer during its handshake.
    check(await read_all(r2) == b'bye', 'second reads bye, then EOF')
    check(not closing.done(), 'close_wait returned before the peer closed')
    w2.write(b'answer')
    await w2.drain()
    check(await r1.readexactly(6) == b'answer',
          'first reads while it waits')
    check(not closing.done(), 'close_wait returned before the peer closed')
    await w2.close_wait()
    await closing
    for w in (w1, w2):
        f = mflow.info(w.fileno()).flags
        check(f & mflow.MFLOW_INFO_WR_SHUT and
              f & mflow.MFLOW_INFO_PEER_WR_SHUT, f'flags {f:#x}')
    check(await r1.read() == b'', 'first reads EOF')
    await w1.close_wait()   # idempotent
    await aclose(w1, w2)


@case
async def R9_aio_handshake_started_by_endpoint_0():
    a, b = await apair()
    await handshake_started_by(a, b)


@case
async def R9_aio_handshake_started_by_endpoint_1():
    a, b = await apair()
    await handshake_started_by(b, a)


@case
async def R9_aio_handshake_from_both_sides_at_once():
    (ra, wa), (rb, wb) = await apair()
    wa.write(b'A' * 100000)
    wb.write(b'B' * 100000)
    # Each side's bytes are more than the fifo holds: the handshakes
    # finish only if reading goes on while both wait.
    got = await asyncio.gather(wa.close_wait(), wb.close_wait(),
                               read_all(ra), read_all(rb))
    check(got[2] == b'B' * 100000 and got[3] == b'A' * 100000,
          'both read everything, then EOF')
    await aclose(wa, wb)


@case
async def R9_R11_aio_handshake_waits_without_spinning():
    (ra, wa), (rb, wb) = await apair()
    closing = asyncio.ensure_future(wa.close_wait())
    check(await rb.read() == b'', 'b reads EOF: a waits for b now')
    cpu = time.process_time()
    await asyncio.sleep(0.5)    # a window to measure, not a synchronisation
    used = time.process_time() - cpu
    check(not closing.done(), 'close_wait returned before the peer closed')
    check(used < 0.2, f'waiting for the peer took {used:.2f} s of CPU in '
          '0.5 s: the wait spins')
    await wb.close_wait()
    await closing
    await aclose(wa, wb)


@case
async def R9_aio_close_wait_timeout_then_completes():
    (ra, wa), (rb, wb) = await apair()
    await aexpect_raises(TimeoutError, wa.close_wait(timeout=0.1),
                         'close_wait with a silent peer')
    check(await rb.read() == b'', 'the peer reads EOF all the same')
    await wb.close_wait()
    await wa.close_wait(timeout=30)
    await aclose(wa, wb)


@case
async def R9_aio_close_wait_timeout_during_the_flush_then_completes():
    (ra, wa), (rb, wb) = await apair()
    fifo = mflow.info(wa.fileno()).fifo_size
    data = b'x' * (3 * fifo)
    wa.write(data)      # more than the fifo holds: the flush waits for b
    await aexpect_raises(TimeoutError, wa.close_wait(timeout=0.1),
                         'close_wait while b does not read')
    same(await read_all(rb), data, 'b reads it all, then EOF')
    await wb.close_wait()
    await wa.close_wait(timeout=30)
    await aclose(wa, wb)


@case
async def R7_aio_epipe_after_peer_detach_is_BrokenPipeError():
    (ra, wa), (rb, wb) = await apair()
    await aclose(wb)
    wa.write(b'nobody reads this')
    await aexpect_raises(BrokenPipeError, wa.drain(), 'drain')
    wa.write(b'again')
    await aexpect_raises(BrokenPipeError, wa.drain(), 'second drain')
    check(await ra.read() == b'', 'EOF: the peer has detached')
    await aclose(wa)


@case
async def R7_R8_aio_epipe_after_peer_shut_read_reading_goes_on():
    (ra, wa), (rb, wb) = await apair()
    mflow.shutdown(wb.fileno(), mflow.SHUT_RD)
    wa.write(b'x' * 1000)
    await aexpect_raises(BrokenPipeError, wa.drain(), 'drain')
    wb.write(b'still here')
    wb.write_eof()
    check(await read_all(ra) == b'still here', 'a reads after its EPIPE')
    await aclose(wa, wb)


@case
async def R4_R10_aio_eof_after_peer_detach_with_data_in_flight():
    (ra, wa), (rb, wb) = await apair()
    data = random.Random(10).randbytes(300000)
    wb.write(data)
    wb.close()          # the detach waits for the buffer, then closes
    got = await read_all(ra)
    await wb.wait_closed()
    same(got, data, 'a reads what b wrote, then EOF')
    check(mflow.info(wa.fileno()).flags & mflow.MFLOW_INFO_PEER_DETACHED,
          'PEER_DETACHED')
    await aclose(wa)


@case
async def R9_R10_aio_detach_ends_the_peers_handshake():
    (ra, wa), (rb, wb) = await apair()
    closing = asyncio.ensure_future(wa.close_wait())
    check(await rb.read() == b'', 'b reads EOF')
    check(not closing.done(), 'close_wait returned before b left')
    await aclose(wb)
    await closing
    await aclose(wa)


@case
def docs_python_example_runs():
    example = os.path.join(HERE, 'python-example.py')
    env = dict(os.environ, MFLOW_CONSOLE=CONSOLE,
               PYTHONPATH=os.path.join(HERE, 'python'))
    r = subprocess.run([sys.executable, example], env=env, timeout=CASE_SECS,
                       capture_output=True, text=True)
    check(r.returncode == 0, f'exit {r.returncode}: {r.stdout}{r.stderr}')
    check(r.stdout == 'echoed 1048576 bytes\nhandshake done\n',
          f'output: {r.stdout!r}')


async def release():
    """Detach every endpoint a failed case left attached."""
    for w in opened:
        w.transport.abort()
    for _ in range(3):
        await asyncio.sleep(0)
    for w in opened:
        if not w.transport._lost:
            os.close(w.fileno())
    opened.clear()


def run(fn):
    if asyncio.iscoroutinefunction(fn):
        async def bounded():
            try:
                await asyncio.wait_for(fn(), CASE_SECS)
            finally:
                await release()
        asyncio.run(bounded())
    else:
        fn()


def main():
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root')
        return 4
    if not os.path.exists(CONSOLE):
        print(f'1..0 # SKIP no {CONSOLE}: mflow is not loaded')
        return 4
    only = os.environ.get('MFLOW_CASES')
    if only:
        tests[:] = [t for t in tests if t.__name__ in only.split(',')]
    print(f'1..{len(tests)}', flush=True)
    failed = 0
    for n, fn in enumerate(tests, 1):
        try:
            run(fn)
            print(f'ok {n} {fn.__name__}', flush=True)
        # CancelledError is no Exception: a case that leaks one fails too.
        except (Exception, asyncio.CancelledError):  # pylint: disable=broad-except
            for line in traceback.format_exc().splitlines():
                print(f'# {line}')
            print(f'not ok {n} {fn.__name__}', flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

# SPDX-License-Identifier: GPL-2.0
"""asyncio streams over an mflow console.

    reader, writer = await mflow.aio.open_connection('/dev/mflow0')

gives asyncio's StreamReader and a StreamWriter (MflowStreamWriter) over
one endpoint of the console, on any event loop with add_reader (the
default one included; it is level-triggered). The console's descriptor is
O_NONBLOCK; the bytes move through asyncio's read and write pipe
transports, each on its own dup of it, joined into one transport with:

- writer.write_eof(): the half-close (SPEC R8, MFLOW_IOC_SHUTDOWN
  SHUT_WR) once the buffered bytes are written; the peer reads EOF after
  them (R4), and this side can still read.
- await writer.close_wait(timeout=None): the close handshake (R9):
  write_eof(), then MFLOW_IOC_CLOSE until the peer has closed too,
  waiting in the loop (never blocking it) for the wakeups that come with
  POLLHUP. Reading goes on
  meanwhile; inbound bytes stay readable after it returns. TimeoutError
  when timeout seconds (if given) run out.
- writer.close(), await writer.wait_closed(): the detach (R10, Mirage's
  disconnect), after the buffered bytes are written.
- a write the peer can no longer read (R7, EPIPE) makes drain() raise
  BrokenPipeError, and the writes after it are dropped; reading goes on.
  A write after write_eof() raises RuntimeError, as on a socket.
- reader.read() returns b"" at EOF (R4): the peer shut its write side,
  ran the handshake or detached, and its bytes have all been read.

The endpoint asks for EPIPE without SIGPIPE (MFLOW_OPT_NOSIGPIPE).
"""

import asyncio
import collections
import os
import select

import mflow

__all__ = ['open_connection', 'MflowStreamWriter']

_DEFAULT_LIMIT = 2 ** 16


class _Protocol(asyncio.StreamReaderProtocol):
    """StreamReaderProtocol whose drain() reports a failed write side
    (BrokenPipeError) while the read side lives on."""

    _write_exc = None

    def _write_side_lost(self, exc):
        self._write_exc = exc
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_exception(_fresh(exc))

    async def _drain_helper(self):
        transport = self._transport
        if transport is not None:
            await transport._write_settled()
        if self._write_exc is not None:
            raise _fresh(self._write_exc)
        await super()._drain_helper()


def _fresh(exc):
    """A new exception like exc, so that each raise has its own traceback."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return type(exc)(exc.errno, os.strerror(exc.errno))
    return exc


class _ReadSide(asyncio.Protocol):
    """The read pipe transport's protocol: hands its events to the
    console's transport once that has started."""

    def __init__(self, owner):
        self._owner = owner
        self._held = collections.deque()

    def _forward(self, *event):
        if self._owner._started:
            self._owner._read_event(*event)
        else:
            self._held.append(event)

    def release(self):
        while self._held:
            self._owner._read_event(*self._held.popleft())

    def data_received(self, data):
        self._forward('data', data)

    def eof_received(self):
        self._forward('eof', None)

    def connection_lost(self, exc):
        self._forward('lost', exc)


class _WriteSide(asyncio.BaseProtocol):
    """The write pipe transport's protocol."""

    def __init__(self, owner):
        self._owner = owner

    def pause_writing(self):
        self._owner._protocol.pause_writing()

    def resume_writing(self):
        self._owner._protocol.resume_writing()

    def connection_lost(self, exc):
        self._owner._write_lost(exc)


class _Transport(asyncio.Transport):
    """One endpoint as a full-duplex transport over two pipe transports."""

    def __init__(self, loop, fd, protocol, console):
        super().__init__({'mflow_fd': fd, 'console': console})
        self._loop = loop
        self._fd = fd
        self._protocol = protocol
        self._rt = self._wt = self._read_side = None
        self._started = False
        self._read_done = self._write_done = False
        self._read_exc = None
        self._eof = False       # write_eof() was called
        self._shut = False      # SHUT_WR done
        self._closing = False
        self._lost = False
        # Done when the write side is finished: shut, or failed.
        self._write_finished = loop.create_future()

    async def _connect(self):
        self._read_side = _ReadSide(self)
        rfile = os.fdopen(os.dup(self._fd), 'rb', buffering=0)
        self._rt, _ = await self._loop.connect_read_pipe(
            lambda: self._read_side, rfile)
        wfile = os.fdopen(os.dup(self._fd), 'wb', buffering=0)
        self._wt, _ = await self._loop.connect_write_pipe(
            lambda: _WriteSide(self), wfile)
        self._protocol.connection_made(self)
        self._started = True
        self._read_side.release()

    # -- events from the pipe transports

    def _read_event(self, kind, arg):
        if kind == 'data':
            self._protocol.data_received(arg)
        elif kind == 'eof':
            self._protocol.eof_received()
        else:
            self._read_done = True
            if arg is not None:
                self._read_exc = arg
                self.abort()
            self._maybe_lost()

    def _shut_write(self):
        if self._shut:
            return
        self._shut = True
        try:
            mflow.shutdown(self._fd, mflow.SHUT_WR)
        except OSError as exc:
            self._write_failed(exc)
            return
        if not self._write_finished.done():
            self._write_finished.set_result(None)

    def _write_failed(self, exc):
        self._protocol._write_side_lost(exc)
        if not self._write_finished.done():
            self._write_finished.set_result(None)

    def _write_lost(self, exc):
        self._write_done = True
        if exc is not None:
            self._write_failed(exc)
        elif self._eof:
            self._shut_write()
        if not self._write_finished.done():
            self._write_finished.set_result(None)
        self._maybe_lost()

    def _maybe_lost(self):
        if self._lost or not (self._closing and self._read_done and
                              self._write_done):
            return
        self._lost = True
        os.close(self._fd)
        if not self._write_finished.done():
            self._write_finished.set_result(None)
        self._protocol.connection_lost(self._read_exc)

    async def _write_settled(self):
        """Wait while the write pipe transport is closing (after a write
        error, or write_eof() with bytes to write) until its outcome is
        known, so that drain() right after a failed write reports it."""
        if (self._wt is not None and self._wt.is_closing() and
                not self._write_done):
            await asyncio.shield(self._write_finished)

    # -- the transport's interface

    def write(self, data):
        if self._eof:
            raise RuntimeError('Cannot call write() after write_eof()')
        if not self._write_done:
            self._wt.write(data)

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self._eof:
            return
        self._eof = True
        if self._write_done:
            return
        if self._wt.get_write_buffer_size() == 0:
            self._shut_write()
            self._wt.close()
        else:
            # Closes its descriptor once the buffer is written: then
            # _write_lost shuts the write side.
            self._wt.write_eof()

    def get_write_buffer_size(self):
        return 0 if self._write_done else self._wt.get_write_buffer_size()

    def get_write_buffer_limits(self):
        return self._wt.get_write_buffer_limits()

    def set_write_buffer_limits(self, high=None, low=None):
        self._wt.set_write_buffer_limits(high, low)

    def is_reading(self):
        return not self._read_done and self._rt.is_reading()

    def pause_reading(self):
        if not self._read_done:
            self._rt.pause_reading()

    def resume_reading(self):
        if not self._read_done:
            self._rt.resume_reading()

    def is_closing(self):
        return self._closing

    def close(self):
        if self._closing:
            return
        self._closing = True
        if not self._read_done:
            self._rt.close()
        if not self._write_done:
            self._wt.close()
        self._maybe_lost()

    def abort(self):
        if self._lost:
            return
        self._closing = True
        if not self._read_done:
            self._rt.close()
        if not self._write_done:
            self._wt.abort()
        self._maybe_lost()

    def get_protocol(self):
        return self._protocol

    def set_protocol(self, protocol):
        self._protocol = protocol

    # -- the close handshake

    async def _wait_closing_edge(self, ep):
        """Wait in the loop until the epoll set ep (see _close_wait) has
        seen a wakeup, then take it."""
        ready = self._loop.create_future()

        def wake():
            if not ready.done():
                ready.set_result(None)
        self._loop.add_reader(ep.fileno(), wake)
        try:
            await ready
        finally:
            self._loop.remove_reader(ep.fileno())
        ep.poll(0)

    async def _close_wait(self):
        if self._lost or self._closing:
            raise RuntimeError('close_wait() after close()')
        # Hold the endpoint open for the ioctls, whatever close() does.
        fd = os.dup(self._fd)
        ep = select.epoll()
        try:
            self.write_eof()
            # Shielded: a timeout must not cancel the shared future.
            await asyncio.shield(self._write_finished)
            # Waiting for POLLHUP (R11) cannot be a level-triggered watch
            # of the console: it polls POLLIN while unread bytes wait and
            # POLLERR once its own write side is shut, so a loop watching
            # it would spin. An edge-triggered epoll entry for no event
            # but the ones always reported (HUP, ERR) is woken by each
            # shutdown or detach of either endpoint (those wakeups carry
            # no event mask), not by bytes moving; each wakeup is one
            # more try of the ioctl.
            ep.register(fd, select.EPOLLET)
            while True:
                try:
                    mflow.close_wait(fd)
                    return
                except BlockingIOError:
                    await self._wait_closing_edge(ep)
        finally:
            ep.close()
            os.close(fd)


class MflowStreamWriter(asyncio.StreamWriter):
    """asyncio.StreamWriter with the close handshake and the endpoint's
    figures."""

    async def close_wait(self, timeout=None):
        """The close handshake (R9), see the module's help. timeout: None
        or seconds (TimeoutError when they run out)."""
        if timeout is None:
            await self.transport._close_wait()
        else:
            await asyncio.wait_for(self.transport._close_wait(), timeout)

    def fileno(self):
        """The endpoint's descriptor (for mflow.info, mflow.stats...)."""
        return self.transport.get_extra_info('mflow_fd')


async def open_connection(console, *, limit=_DEFAULT_LIMIT):
    """Open console (a path, index or name, as mflow.open takes it),
    attaching an endpoint (R1), and return (StreamReader,
    MflowStreamWriter) over it."""
    loop = asyncio.get_running_loop()
    fd = mflow.open(console, os.O_RDWR | os.O_NONBLOCK)
    try:
        mflow.set_opts(fd, mflow.get_opts(fd) | mflow.MFLOW_OPT_NOSIGPIPE)
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        protocol = _Protocol(reader, loop=loop)
        transport = _Transport(loop, fd, protocol, console)
        await transport._connect()
    except BaseException:
        os.close(fd)
        raise
    return reader, MflowStreamWriter(transport, protocol, reader, loop)


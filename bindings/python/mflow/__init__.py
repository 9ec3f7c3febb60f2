# SPDX-License-Identifier: GPL-2.0
"""mflow: console flow devices /dev/mflowN from Python.

A thin layer over the ioctls of <linux/mflow.h> (whose numbers and struct
layouts live in the generated module mflow._uapi). Endpoint calls take a
descriptor: an int, or any object with fileno(). Failures raise OSError
subclasses, as os.read and os.write do: BrokenPipeError (EPIPE, SPEC R7),
TimeoutError (ETIMEDOUT), BlockingIOError (EAGAIN), FileNotFoundError
(ENOENT), FileExistsError (EEXIST), PermissionError; a malformed
console name raises ValueError before the kernel is asked.

Naming a console ("console" arguments): a path containing "/"
(/dev/mflow3, /dev/mflow/by-name/NAME), an index (3 or "3"), a kernel
name ("mflow3") or a console name (SPEC R17). An empty string names
nothing.

mflow.aio gives asyncio streams over a console.
"""

import collections
import errno
import fcntl
import os
import re
import socket
import struct
import time

from . import _uapi

__all__ = ['open', 'shutdown', 'close_wait', 'add', 'remove', 'info',
           'stats', 'outq', 'query', 'version', 'get_opts', 'set_opts',
           'resolve', 'check_name', 'Info', 'Stats', 'Query', 'Version',
           'SHUT_RD', 'SHUT_WR', 'SHUT_RDWR']

# The same values as socket.SHUT_*, taken from the header all the same.
SHUT_RD = _uapi.MFLOW_SHUT_RD
SHUT_WR = _uapi.MFLOW_SHUT_WR
SHUT_RDWR = _uapi.MFLOW_SHUT_RDWR
assert (SHUT_RD, SHUT_WR, SHUT_RDWR) == (socket.SHUT_RD, socket.SHUT_WR,
                                         socket.SHUT_RDWR)

# Every MFLOW_* constant of the header: MFLOW_INFO_*, MFLOW_OPT_*,
# MFLOW_STATE_*, the ioctl numbers...
globals().update({k: v for k, v in vars(_uapi).items()
                  if k.startswith('MFLOW_')})
__all__ += [k for k in vars(_uapi) if k.startswith('MFLOW_')]

CONTROL = '/dev/mflow-control'
CLASS_DIR = '/sys/class/mflow'
BY_NAME = '/dev/mflow/by-name'

builtin_open = open

_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9._-]*\Z')


def _fields(name):
    return getattr(_uapi, f'STRUCT_MFLOW_{name}_FIELDS')


Info = collections.namedtuple('Info', _fields('INFO'))
Info.__doc__ = """MFLOW_IOC_INFO (R13); flags are MFLOW_INFO_* bits."""
Stats = collections.namedtuple('Stats', _fields('STATS'))
Stats.__doc__ = """MFLOW_IOC_STATS (R13): this endpoint's figures."""
Query = collections.namedtuple('Query', _fields('CTL_QUERY'))
Query.__doc__ = """MFLOW_CTL_QUERY (R16); name is a str."""
Version = collections.namedtuple('Version', _fields('CTL_VERSION'))
Version.__doc__ = """MFLOW_CTL_VERSION (R16)."""


def _fd(f):
    return f if isinstance(f, int) else f.fileno()


def _ioctl_read(fd, request, layout):
    buf = bytearray(layout.size)
    fcntl.ioctl(_fd(fd), request, buf, True)
    return layout.unpack(buf)


def _u32(value):
    return struct.pack('=I', value)


def check_name(name):
    """Raise ValueError unless name follows SPEC R17's rules."""
    if not isinstance(name, str) or not (
            0 < len(name) < _uapi.MFLOW_NAME_MAX and _NAME.match(name)
            and not name.isdigit() and not re.fullmatch(r'mflow[0-9]+', name)):
        raise ValueError(f'{name!r} is not a console name: 1..'
                         f'{_uapi.MFLOW_NAME_MAX - 1} bytes of [A-Za-z0-9._-], '
                         'the first a letter, digit or "_", not all digits, '
                         'not "mflow" and digits')


def _as_index(console):
    """The index console spells (3, "3", "mflow3"), or None."""
    if isinstance(console, int) and not isinstance(console, bool):
        if console < 0:
            raise ValueError(f'{console}: a console index is >= 0')
        return console
    m = re.fullmatch(r'(?:mflow)?([0-9]+)', console)
    return int(m.group(1)) if m else None


def _sysfs_name(index):
    try:
        with builtin_open(f'{CLASS_DIR}/mflow{index}/name') as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def resolve(console):
    """The node path for console: a path as it is, /dev/mflowN for an
    index, and for a name its /dev/mflow/by-name link or else the console
    whose sysfs name it is. FileNotFoundError (ENODEV) if no console has
    that name."""
    if isinstance(console, str) and '/' in console:
        return console
    if console == '':
        raise ValueError('an empty string names no console')
    index = _as_index(console)
    if index is not None:
        return f'/dev/mflow{index}'
    check_name(console)
    link = f'{BY_NAME}/{console}'
    if os.path.exists(link):
        return link
    try:
        entries = os.listdir(CLASS_DIR)
    except FileNotFoundError:
        entries = []
    for entry in entries:
        m = re.fullmatch(r'mflow([0-9]+)', entry)
        if m and _sysfs_name(m.group(1)) == console:
            return f'/dev/{entry}'
    raise FileNotFoundError(errno.ENODEV, f'no console is named {console!r}')



def open(console, flags=os.O_RDWR):  # pylint: disable=redefined-builtin
    """Open the console with os.open flags (O_CLOEXEC is added),
    attaching an endpoint (R1); returns the descriptor. OSError EBUSY when
    both endpoints of its connection are taken."""
    return os.open(resolve(console), flags | os.O_CLOEXEC)


def shutdown(fd, how=SHUT_WR):
    """Half-close (R8): SHUT_RD, SHUT_WR or SHUT_RDWR. Never blocks."""
    fcntl.ioctl(_fd(fd), _uapi.MFLOW_IOC_SHUTDOWN, _u32(how))


def close_wait(fd, timeout=None):
    """The close handshake (R9): shut the write side, then wait until the
    peer has closed too (its close_wait, a write shutdown or a detach).

    timeout: None waits as long as it takes, else seconds (TimeoutError
    when they run out; 0 does not wait). A signal whose handler returns
    does not end the wait (PEP 475). On an O_NONBLOCK descriptor it raises
    BlockingIOError while the peer has not closed: wait for POLLHUP
    (select.POLLHUP, R11), then call it again; mflow.aio does that.
    Idempotent; inbound data stays readable after it returns (then EOF).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            arg = _uapi.STRUCT_MFLOW_CLOSE_ARGS.pack(0, 0, 0)
        else:
            left = max(0, int((deadline - time.monotonic()) * 1e9))
            arg = _uapi.STRUCT_MFLOW_CLOSE_ARGS.pack(
                left, _uapi.MFLOW_CLOSE_TIMEOUT, 0)
        try:
            fcntl.ioctl(_fd(fd), _uapi.MFLOW_IOC_CLOSE, arg)
            return
        except InterruptedError:
            continue


def info(fd):
    """MFLOW_IOC_INFO (R13) as an Info."""
    return Info(*_ioctl_read(fd, _uapi.MFLOW_IOC_INFO,
                             _uapi.STRUCT_MFLOW_INFO))


def stats(fd):
    """MFLOW_IOC_STATS (R13) as a Stats."""
    return Stats(*_ioctl_read(fd, _uapi.MFLOW_IOC_STATS,
                              _uapi.STRUCT_MFLOW_STATS))


def outq(fd):
    """Bytes this endpoint wrote that the peer has not read yet (R12)."""
    return _ioctl_read(fd, _uapi.MFLOW_IOC_OUTQ, struct.Struct('=I'))[0]


def get_opts(fd):
    """The endpoint's MFLOW_OPT_* bits."""
    return _ioctl_read(fd, _uapi.MFLOW_IOC_GET_OPTS, struct.Struct('=I'))[0]


def set_opts(fd, opts):
    """Set the endpoint's MFLOW_OPT_* bits (MFLOW_OPT_NOSIGPIPE)."""
    fcntl.ioctl(_fd(fd), _uapi.MFLOW_IOC_SET_OPTS, _u32(opts))


def _control(request, arg):
    fd = os.open(CONTROL, os.O_RDWR | os.O_CLOEXEC)
    try:
        if isinstance(arg, bytearray):
            return fcntl.ioctl(fd, request, arg, True)
        return fcntl.ioctl(fd, request, arg)
    finally:
        os.close(fd)


def _name_bytes(name):
    if name is None:
        return b''
    check_name(name)
    return name.encode('ascii')


def version():
    """MFLOW_CTL_VERSION (R16) as a Version."""
    layout = _uapi.STRUCT_MFLOW_CTL_VERSION
    buf = bytearray(layout.size)
    _control(_uapi.MFLOW_CTL_VERSION, buf)
    return Version(*layout.unpack(buf))


def add(name=None, fifo_size=0, index=None):
    """Create a console (R16): at index, or the lowest free one; with a
    name (R17) or none; fifo_size 0 takes the module's default. Returns
    its index. FileExistsError when the index or the name is taken."""
    layout = _uapi.STRUCT_MFLOW_CTL_ADD
    buf = bytearray(layout.pack(
        _uapi.MFLOW_CTL_ANY if index is None else index, fifo_size, 0, 0,
        _name_bytes(name)))
    _control(_uapi.MFLOW_CTL_ADD, buf)
    return layout.unpack(buf)[0]


def _ctl_id(console):
    """(index, name bytes) selecting console at the control device."""
    if isinstance(console, str) and '/' in console:
        rdev = os.stat(console).st_rdev
        target = os.readlink(f'/sys/dev/char/{os.major(rdev)}:'
                             f'{os.minor(rdev)}')
        m = re.search(r'/mflow/mflow([0-9]+)\Z', target)
        if not m:
            raise OSError(errno.ENODEV, 'not an mflow console node', console)
        return int(m.group(1)), b''
    if console == '':
        raise ValueError('an empty string names no console')
    index = _as_index(console)
    if index is not None:
        return index, b''
    return _uapi.MFLOW_CTL_ANY, _name_bytes(console)


def remove(console):
    """Remove an idle console (R16), by path, index or name (a name is
    selected by the kernel). OSError EBUSY while its connection is live."""
    index, name = _ctl_id(console)
    _control(_uapi.MFLOW_CTL_REMOVE,
             _uapi.STRUCT_MFLOW_CTL_ID.pack(index, 0, name))


def query(console):
    """MFLOW_CTL_QUERY (R16) as a Query."""
    index, name = _ctl_id(console)
    layout = _uapi.STRUCT_MFLOW_CTL_QUERY
    buf = bytearray(layout.pack(index, 0, name, 0, 0, 0, 0, 0))
    _control(_uapi.MFLOW_CTL_QUERY, buf)
    q = Query(*layout.unpack(buf))
    return q._replace(name=q.name.rstrip(b'\0').decode('ascii'))

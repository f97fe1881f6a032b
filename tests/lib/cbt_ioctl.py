"""The cbt ioctl ABI from Python, for tests that must hand the kernel what
the library never would (include/uapi/cbt_ioctl.h)."""
import fcntl
import os
import struct
import uuid

CTL = "/dev/cbt-ctl"
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (0xCB << 8) | nr


MEMBER = struct.Struct("=II II 16sQ II 2Q")          # struct cbt_snap_member
SNAP_CREATE = struct.Struct("=Q II iI II Q 4Q")       # struct cbt_snap_create
SNAP_DESTROY = struct.Struct("=II 2Q")                # struct cbt_snap_destroy
CHANGES = struct.Struct("=II II 16sQ QQQQ QQ 4Q")     # struct cbt_changes
CHECKPOINT = struct.Struct("=II II 2Q 16sQ")          # struct cbt_checkpoint
STATUS = struct.Struct("=II II 16sQ QQQQQ II 6Q")     # struct cbt_status

IOC_SNAP_CREATE = _ioc(_IOC_READ | _IOC_WRITE, 0x10, SNAP_CREATE.size)
IOC_SNAP_DESTROY = _ioc(_IOC_WRITE, 0x12, SNAP_DESTROY.size)
IOC_CHANGES = _ioc(_IOC_READ | _IOC_WRITE, 0x06, CHANGES.size)
IOC_CHECKPOINT = _ioc(_IOC_READ | _IOC_WRITE, 0x05, CHECKPOINT.size)
IOC_STATUS = _ioc(_IOC_READ | _IOC_WRITE, 0x03, STATUS.size)


def devno(path):
    st = os.stat(path)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def parse_stamp(stamp):
    u, g = stamp.rsplit(":", 1)
    return uuid.UUID(u).bytes, int(g)


def ctl():
    return os.open(CTL, os.O_RDWR)


def checkpoint(fd, path, timeout_ms=0):
    """A checkpoint of the tracked device PATH through control fd FD: its
    stamp as the CLI prints it ("uuid:generation")."""
    maj, mnr = devno(path)
    req = bytearray(CHECKPOINT.pack(maj, mnr, 0, timeout_ms, 0, 0, b"\0" * 16, 0))
    fcntl.ioctl(fd, IOC_CHECKPOINT, req, True)
    u, g = CHECKPOINT.unpack(req)[6:8]
    return f"{uuid.UUID(bytes=u)}:{g}"


def status(fd, path):
    """The tracker of PATH as CBT_IOC_STATUS answers through control fd FD:
    the device numbers it reports back and the bytes it tracks."""
    maj, mnr = devno(path)
    req = bytearray(STATUS.size)
    STATUS.pack_into(req, 0, maj, mnr, *([0] * 2), b"\0" * 16, *([0] * 14))
    fcntl.ioctl(fd, IOC_STATUS, req, True)
    f = STATUS.unpack(req)
    return f[0], f[1], f[7]

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

IOC_SNAP_CREATE = _ioc(_IOC_READ | _IOC_WRITE, 0x10, SNAP_CREATE.size)
IOC_SNAP_DESTROY = _ioc(_IOC_WRITE, 0x12, SNAP_DESTROY.size)
IOC_CHANGES = _ioc(_IOC_READ | _IOC_WRITE, 0x06, CHANGES.size)


def devno(path):
    st = os.stat(path)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def parse_stamp(stamp):
    u, g = stamp.rsplit(":", 1)
    return uuid.UUID(u).bytes, int(g)


def ctl():
    return os.open(CTL, os.O_RDWR)

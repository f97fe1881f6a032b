"""The cbt ioctl ABI from Python, for tests that must hand the kernel what
the library never would (include/uapi/cbt_ioctl.h)."""
import fcntl
import os
import struct
import uuid

CTL = "/dev/cbt-ctl"
_IOC_WRITE, _IOC_READ = 1, 2
CBT_CHANGES_BITMAP = 1


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


LIST = struct.Struct("=Q II 2Q")                       # struct cbt_list
EXTENT = struct.Struct("=QQ")                          # struct cbt_extent
IOC_LIST = _ioc(_IOC_READ | _IOC_WRITE, 0x04, LIST.size)


def list_devs(fd):
    """Every tracked (major, minor), from CBT_IOC_LIST through FD."""
    import ctypes
    cap = 4096
    buf = ctypes.create_string_buffer(8 * cap)
    req = bytearray(LIST.pack(ctypes.addressof(buf), cap, 0, 0, 0))
    fcntl.ioctl(fd, IOC_LIST, req, True)
    count = LIST.unpack(req)[2]
    return [struct.unpack_from("=II", buf.raw, 8 * i) for i in range(min(count, cap))]


def status_dev(fd, maj, mnr):
    """CBT_IOC_STATUS of device number MAJ:MNR (the node may be gone): the
    fields of struct cbt_status as a tuple; OSError (ENOENT) if untracked."""
    req = bytearray(STATUS.size)
    STATUS.pack_into(req, 0, maj, mnr, *([0] * 2), b"\0" * 16, *([0] * 14))
    fcntl.ioctl(fd, IOC_STATUS, req, True)
    return STATUS.unpack(req)


def changes(fd, path, stamp, offset=0, length=0):
    """The extents CBT_IOC_CHANGES reports for PATH since STAMP (as the CLI
    prints stamps), paging through next_offset: [(offset, length), ...].
    OSError (ESTALE, ...) when the kernel refuses."""
    import ctypes
    maj, mnr = devno(path)
    u, g = parse_stamp(stamp)
    cap = 256
    buf = ctypes.create_string_buffer(EXTENT.size * cap)
    end = offset + length if length else status_dev(fd, maj, mnr)[7]
    out = []
    while True:
        req = bytearray(CHANGES.pack(maj, mnr, 0, 0, u, g, offset, end - offset,
                                     ctypes.addressof(buf), len(buf), 0, 0, 0, 0, 0, 0))
        fcntl.ioctl(fd, IOC_CHANGES, req, True)
        f = CHANGES.unpack(req)
        nxt, count = f[10], f[11]
        out += [EXTENT.unpack_from(buf.raw, EXTENT.size * i) for i in range(count)]
        if nxt >= end:
            return out
        if nxt <= offset:
            raise RuntimeError(f"next_offset {nxt} does not move past {offset}")
        offset = nxt


def changes_bitmap(fd, path, stamp):
    """The blocks CBT_IOC_CHANGES in bitmap mode reports for PATH since
    STAMP, over the whole device: a set of block numbers."""
    import ctypes
    maj, mnr = devno(path)
    u, g = parse_stamp(stamp)
    st = status_dev(fd, maj, mnr)
    end, bs = st[7], st[11]
    buf = ctypes.create_string_buffer(4096)
    out, offset = set(), 0
    while offset < end:
        ctypes.memset(buf, 0, len(buf))
        req = bytearray(CHANGES.pack(maj, mnr, CBT_CHANGES_BITMAP, 0, u, g, offset,
                                     end - offset, ctypes.addressof(buf), len(buf),
                                     0, 0, 0, 0, 0, 0))
        fcntl.ioctl(fd, IOC_CHANGES, req, True)
        f = CHANGES.unpack(req)
        nxt, count = f[10], f[11]
        first = offset // bs
        raw = buf.raw
        out.update(first + i for i in range(count) if raw[i // 8] >> (i % 8) & 1)
        if nxt <= offset:
            raise RuntimeError(f"next_offset {nxt} does not move past {offset}")
        offset = nxt
    return out

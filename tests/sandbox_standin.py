"""A stand-in worker for sandbox tests: standard library only, so it runs in any sandbox image.

Started like the real shim (``python3 -I -B sandbox_standin.py /sub``), it speaks a tiny framed
protocol on stdin/stdout: every frame is a 4-byte big-endian length and that many bytes. It first
sends ``{"ready": true}``; then each request is a JSON frame ``{"op": ...}`` (``echo`` is followed by
one data frame) and each reply a JSON frame (``echo`` adds the data frame back). Everything else it
prints goes to stderr, like student output.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import struct
import sys
import time

LENGTH = struct.Struct(">I")


def read_exact(n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(0, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame() -> bytes:
    return read_exact(LENGTH.unpack(read_exact(4))[0])


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send(reply: dict, blob: bytes | None = None) -> None:
    payload = json.dumps(reply).encode()
    out = LENGTH.pack(len(payload)) + payload
    if blob is not None:
        out += LENGTH.pack(len(blob)) + blob
    write_all(1, out)


def error_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def try_write(path: str) -> str:
    try:
        with open(path, "wb") as handle:
            handle.write(b"x")
    except OSError as exc:
        return error_name(exc)
    return "written"


def op_echo(request: dict) -> None:
    data = read_frame()
    noise = request.get("stderr_bytes", 0)
    if noise:
        # Starts like a reply frame; written to fd 2 directly and through print(): must stay there.
        write_all(2, LENGTH.pack(3) + b"bad" + b"e" * (noise - 7))
    print("printed by the student", file=sys.stderr, flush=True)
    send({"ok": True, "size": len(data)}, data)


def op_cat(request: dict) -> None:
    send({"ok": True})
    while chunk := os.read(0, 1 << 16):
        write_all(1, chunk)
    sys.exit(0)


def op_identity(request: dict) -> dict:
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "CapEff": status.get("CapEff"),
        "CapPrm": status.get("CapPrm"),
        "CapBnd": status.get("CapBnd"),
        "NoNewPrivs": status.get("NoNewPrivs"),
        "Seccomp": status.get("Seccomp"),
        "pid": os.getpid(),
        "pid1": open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode(),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "env": dict(os.environ),
        "rlimits": _rlimits(),
    }


def _rlimits() -> dict:
    import resource

    return {
        name: resource.getrlimit(getattr(resource, name))
        for name in ("RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA")
    }


def op_network(request: dict) -> dict:
    results = {}
    for host, port in (("1.1.1.1", 53), ("8.8.8.8", 443), ("172.17.0.1", 2375)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(3)
        try:
            sock.connect((host, port))
            results[f"{host}:{port}"] = "connected"
        except OSError as exc:
            results[f"{host}:{port}"] = error_name(exc) if exc.errno else type(exc).__name__
        finally:
            sock.close()
    try:
        socket.getaddrinfo("deb.debian.org", 80)
        dns = "resolved"
    except OSError as exc:
        dns = type(exc).__name__
    with open("/proc/net/dev") as handle:
        interfaces = [line.split(":")[0].strip() for line in handle.readlines()[2:]]
    return {"connect": results, "dns": dns, "interfaces": interfaces, "netns": os.readlink("/proc/self/ns/net")}


def op_filesystem(request: dict) -> dict:
    paths = ["/probe", "/etc/probe", "/usr/probe", "/opt/worker/probe", "/sub/probe", "/var/tmp/probe"]
    writes = {path: try_write(path) for path in paths}
    mounts = {}
    with open("/proc/self/mounts") as handle:
        for line in handle:
            device, mountpoint, fstype, options = line.split()[:4]
            mounts[mountpoint] = {"type": fstype, "options": options.split(",")}
    return {"writes": writes, "mounts": mounts}


def op_fill_tmp(request: dict) -> dict:
    written = 0
    block = b"\0" * 65536
    try:
        with open("/tmp/fill", "wb") as handle:
            while written < request["bytes"]:
                handle.write(block)
                handle.flush()
                written += len(block)
    except OSError as exc:
        return {"written": written, "error": error_name(exc)}
    return {"written": written, "error": None}


def op_forkbomb(request: dict) -> dict:
    children = 0
    error = None
    for _ in range(request["tries"]):
        try:
            pid = os.fork()
        except OSError as exc:
            error = error_name(exc)
            break
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children += 1
    return {"children": children, "error": error}


def op_alloc(request: dict) -> dict:
    try:
        block = b"x" * request["bytes"]  # every page touched
    except MemoryError:
        return {"allocated": False, "error": "MemoryError"}
    return {"allocated": True, "size": len(block)}


def op_alloc_children(request: dict) -> dict:
    """Fork ``children`` processes that each touch ``bytes`` of memory; report how each one ended."""
    pids = []
    for _ in range(request["children"]):
        pid = os.fork()
        if pid == 0:
            try:
                block = bytearray(request["bytes"])
                for offset in range(0, len(block), 4096):
                    block[offset] = 1
                time.sleep(2)
            except MemoryError:
                os._exit(3)
            os._exit(0)
        pids.append(pid)
    endings = []
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        endings.append(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    return {"endings": endings}


def op_hang(request: dict) -> None:
    while True:
        time.sleep(1)


def main() -> None:
    print("stand-in worker started", file=sys.stderr, flush=True)
    send({"ready": True})
    ops = {name[3:]: value for name, value in globals().items() if name.startswith("op_")}
    while True:
        try:
            request = json.loads(read_frame())
        except EOFError:
            return
        result = ops[request["op"]](request)
        if result is not None:
            send({"ok": True, **result})


if __name__ == "__main__":
    main()

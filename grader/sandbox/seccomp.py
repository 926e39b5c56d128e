"""The seccomp filter of the ``bwrap`` backend, built as a classic BPF program with no dependency.

Namespaces do not isolate everything a uid owns in the kernel (docs/security.md has the review). The
filter refuses, with ``EPERM``, the system calls that reach per-uid or host-wide kernel objects that
outlive a worker, and the ones a numerical worker never needs but that widen the kernel's attack
surface. Docker's default profile already blocks most of them; this gives ``bwrap`` the same floor.

bubblewrap loads the program from a file descriptor (``--seccomp FD``) in the form
``seccomp_export_bpf`` writes: an array of ``struct sock_filter`` (u16 code, u8 jt, u8 jf, u32 k) in
native byte order. A worker on an architecture not listed here is killed at its first system call
rather than run unfiltered (the program checks ``seccomp_data.arch`` first).
"""

from __future__ import annotations

import os
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARG0_LOW = 16  # low 32 bits of args[0] on little-endian machines

# BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1
ENOSYS = 38

#: ``clone`` flags that create namespaces; a worker may start threads and processes, not namespaces.
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000
# CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP

#: Refused system calls, with why (the review behind the list is in docs/security.md).
BLOCKED: dict[str, str] = {
    # per-uid kernel state that outlives the worker and is not namespaced by pid/net/ipc/mount
    "keyctl": "kernel keyrings are per uid and outlive every process",
    "add_key": "kernel keyrings",
    "request_key": "kernel keyrings (and it can start a host helper)",
    "inotify_init": "inotify instances count against a per-uid limit",
    "inotify_init1": "inotify instances count against a per-uid limit",
    "fanotify_init": "file-system notification of the host",
    "mq_open": "POSIX message queues count against RLIMIT_MSGQUEUE of the uid",
    "mq_unlink": "POSIX message queues",
    # new namespaces would let a worker get capabilities over its own objects
    "unshare": "new namespaces",
    "setns": "entering namespaces",
    "mount": "file-system namespaces",
    "umount2": "file-system namespaces",
    "pivot_root": "file-system namespaces",
    "open_by_handle_at": "opens files outside the visible tree by handle",
    "name_to_handle_at": "file handles",
    # other processes' memory and the kernel's own attack surface
    "ptrace": "other processes' memory",
    "process_vm_readv": "other processes' memory",
    "process_vm_writev": "other processes' memory",
    "kcmp": "compares other processes' kernel objects",
    "bpf": "kernel programs",
    "perf_event_open": "performance counters (side channels, kernel attack surface)",
    "userfaultfd": "used to widen kernel race windows",
    "io_uring_setup": "io_uring bypasses seccomp for the calls it submits",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "personality": "can turn off address-space randomisation",
    "acct": "host administration",
    "quotactl": "host administration",
    "syslog": "the kernel log",
    "kexec_load": "host administration",
    "kexec_file_load": "host administration",
    "init_module": "kernel modules",
    "finit_module": "kernel modules",
    "delete_module": "kernel modules",
    "reboot": "host administration",
    "swapon": "host administration",
    "swapoff": "host administration",
}

#: System call numbers per architecture: (AUDIT_ARCH value, {name: number}).
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        {
            "keyctl": 250,
            "add_key": 248,
            "request_key": 249,
            "inotify_init": 253,
            "inotify_init1": 294,
            "fanotify_init": 300,
            "mq_open": 240,
            "mq_unlink": 241,
            "unshare": 272,
            "setns": 308,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "open_by_handle_at": 304,
            "name_to_handle_at": 303,
            "ptrace": 101,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            "kcmp": 312,
            "bpf": 321,
            "perf_event_open": 298,
            "userfaultfd": 323,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "personality": 135,
            "acct": 163,
            "quotactl": 179,
            "syslog": 103,
            "kexec_load": 246,
            "kexec_file_load": 320,
            "init_module": 175,
            "finit_module": 313,
            "delete_module": 176,
            "reboot": 169,
            "swapon": 167,
            "swapoff": 168,
            # handled apart: clone (flags), clone3 (ENOSYS so the C library falls back to clone)
            "clone": 56,
            "clone3": 435,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "keyctl": 219,
            "add_key": 217,
            "request_key": 218,
            "inotify_init1": 26,
            "fanotify_init": 262,
            "mq_open": 180,
            "mq_unlink": 181,
            "unshare": 97,
            "setns": 268,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "open_by_handle_at": 265,
            "name_to_handle_at": 264,
            "ptrace": 117,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            "kcmp": 272,
            "bpf": 280,
            "perf_event_open": 241,
            "userfaultfd": 282,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "personality": 92,
            "acct": 89,
            "quotactl": 60,
            "syslog": 116,
            "kexec_load": 104,
            "kexec_file_load": 294,
            "init_module": 105,
            "finit_module": 273,
            "delete_module": 106,
            "reboot": 142,
            "swapon": 224,
            "swapoff": 225,
            "clone": 220,
            "clone3": 435,
        },
    ),
}
#: x32 system calls on x86_64 have this bit set; refused as a whole (a second numbering of everything).
_X32_SYSCALL_BIT = 0x40000000


class SeccompUnsupported(RuntimeError):
    """No system call table for this machine's architecture."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_program(arch: str | None = None) -> bytes:
    """The filter as ``struct sock_filter`` records, ready for ``bwrap --seccomp FD``."""
    arch = arch or platform.machine()
    if arch not in _ARCHES:
        raise SeccompUnsupported(f"no seccomp system call table for {arch}")
    audit_arch, numbers = _ARCHES[arch]
    blocked = sorted({numbers[name] for name in BLOCKED if name in numbers})
    deny = SECCOMP_RET_ERRNO | EPERM
    body: list[tuple[int, int, int, int]] = []
    # Each refused number: "if nr == N goto deny". Jumps are relative, resolved once the layout is known.
    for number in blocked:
        body.append((_JEQ_K, -1, 0, number))  # -1 = jump to DENY
    program: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_JEQ_K, 1, 0, audit_arch),
        (_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if arch == "x86_64":
        program.append((_JGE_K, -1, 0, _X32_SYSCALL_BIT))
    program += body
    # clone3 passes its flags in memory the filter cannot read: refuse it with ENOSYS, so the C library
    # falls back to clone, whose flags the filter checks.
    program += [
        (_JEQ_K, 0, 1, numbers["clone3"]),
        (_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
        (_JEQ_K, 0, 2, numbers["clone"]),
        (_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW),
        (_JSET_K, -1, 0, CLONE_NAMESPACE_FLAGS),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    deny_index = len(program)
    program.append((_RET_K, 0, 0, deny))
    out = []
    for index, (code, jt, jf, k) in enumerate(program):
        if jt == -1:
            jt = deny_index - index - 1
        if jf == -1:
            jf = deny_index - index - 1
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise AssertionError("seccomp jump out of range")
        out.append(_insn(code, jt, jf, k))
    return b"".join(out)


def program_fd(arch: str | None = None) -> int:
    """A readable file descriptor holding the program, positioned at its start (caller closes it)."""
    program = build_program(arch)
    fd = os.memfd_create("backprop-grader-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd

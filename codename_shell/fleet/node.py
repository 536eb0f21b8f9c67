"""Who is asking, as the fleet sees it: the node, the holder's token, and names as readers see them.

A node is one allocation domain: one host (running kernel, machine, pid and mount namespace:
two containers with the same hostname are two hosts; one host whose hostname changes is
one) and one user's state dir on it, which is what one local lock and one keeper cover. Its
id goes into Redis keys and into host-qualified names, so it is a short digest, computed
without hashlib (which costs a millisecond and a half at every shell start).
"""

from __future__ import annotations

from codename_shell import casts, liveness
from codename_shell import lean_os as os

QUALIFIER = "~"  # between the hostname and the node id in a host-qualified name
_TAG = 6  # hex digits of the node id in a host-qualified name
#: The longest name (or full name) read from Redis: a cast's, with an overflow round after it.
LONGEST = casts.MAX_NAME + casts.OVERFLOW_SUFFIX


def node_id(state_dir: str) -> str:
    """This node's id: 16 hex digits, the same for every process of this user on this host."""
    try:
        mounts = os.readlink("/proc/self/ns/mnt")
    except OSError:
        mounts = ""
    # Not the hostname: it can change under running holders (DHCP, `hostnamectl`), and the
    # keeper must still know their tokens for its own. The boot id tells kernels apart.
    parts = (liveness.boot_id(), liveness.machine_id(), liveness.pid_namespace(), mounts,
             str(os.geteuid()), state_dir)
    return f"{_digest(chr(0).join(parts).encode('utf-8', 'replace')):016x}"


def _digest(data: bytes) -> int:
    """64 well-mixed bits of `data`, cheaply: the bytes as one number modulo the Mersenne prime
    2**61 - 1 (one big-number operation in C; FNV-1a in Python would cost a shell start 60 us),
    then splitmix64's finalizer, so that every input bit moves the low bits too (a
    host-qualified name shows only the last hex digits). Not a cryptographic hash, and it
    need not be: it tells apart ids that differ by a random boot id or a namespace inode."""
    mask = (1 << 64) - 1
    z = (int.from_bytes(data, "big") % ((1 << 61) - 1) + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def token(node: str, pid: int | None, start: int | None) -> str:
    """One holder on one node, as Redis records who holds a name."""
    return f"{node}/{pid}-{start if start is not None else 'x'}"


def parse_token(text: str) -> tuple[str, int, int | None] | None:
    """(node, pid, start) from a token, or None when it is not one of ours."""
    node, slash, ident = text.partition("/")
    pid, _, start = ident.partition("-")
    if not slash or not pid.isdigit() or not (start.isdigit() or start == "x"):
        return None
    return node, int(pid), None if start == "x" else int(start)


def fold(name: str) -> str:
    """A name as readers tell names apart: the allocator's own rule (`casts.fold`), so a name
    the fleet keys in Redis is the very name a local claim compares."""
    return casts.fold(name)


def unusable(name: str, full: str) -> str | None:
    """Why a name and full name that came from Redis (a claim's answer, another host's row)
    cannot be shown nor held, or None: the check a name from config passes
    (`casts.name_problem`: no control characters of any kind, no blanks at either end, not too
    long). The reason never quotes the value: whoever wrote it chose its bytes."""
    if casts.name_problem(name, LONGEST) is not None:
        return "a name with control characters, blanks at an end, or too long"
    if casts.name_problem(full, LONGEST) is not None:
        return "a full name with control characters, blanks at an end, or too long"
    return None


def qualify(name: str, node: str) -> str:
    """`Pam` -> `Pam@laptop~3f2a9c`: a name no other node can hand out while this one holds it.

    The node id is in it because two hosts can share a hostname (two containers, two clones),
    and each picks its names locally when the fleet cannot be reached.
    """
    host = "".join(c for c in liveness.host() if c.isprintable() and c not in " \t@")[:32]
    return f"{name}@{host or 'host'}{QUALIFIER}{node[-_TAG:]}"


def is_qualified(name: str) -> bool:
    at = name.rfind("@")
    tag = name.rpartition(QUALIFIER)[2]
    return at > 0 and QUALIFIER in name[at:] and len(tag) == _TAG \
        and all(c in "0123456789abcdef" for c in tag)


def base(name: str) -> str:
    """The cast name a host-qualified name stands for (`Pam@laptop~3f2a9c` -> `Pam`)."""
    return name[:name.rfind("@")] if is_qualified(name) else name

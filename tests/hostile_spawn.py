"""Start one hostile case and measure it as if it ran on its own (tests/test_hostile.py).

Run as `python -I -S hostile_spawn.py RESULT ADDRESS_SPACE ARGV...`: forks, caps the child's
address space, execs ARGV (stdin, stdout, stderr, working directory and environment are this
process's), waits for it with wait4 and writes one JSON line to RESULT: exit status, wall
seconds, user + system CPU seconds and peak RSS in bytes of the child (its own waited-for
children included, as wait4 counts them).

Why a process in between: Linux carries the peak RSS of a process across fork (the new memory
map starts with the parent's high-water mark) and across exec (the old map's peak is kept in
the process's maxrss). A case started straight from pytest, a process of hundreds of MiB by
then, reported pytest's peak, not its own. This spawner is a few MiB (-I -S: no site-packages,
no user site), so what the case reports above that is the case's own.
"""

import json
import os
import resource
import sys
import time


def main() -> int:
    result, address_space, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    with open(result, "w", encoding="utf-8") as out:
        json.dump(
            {
                "status": status,
                "seconds": seconds,
                "cpu": usage.ru_utime + usage.ru_stime,
                "max_rss": usage.ru_maxrss * 1024,  # Linux reports KiB
            },
            out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

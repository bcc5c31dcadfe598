"""What keeps one launch of a study safe: one launcher per experiment, and clean interruptions.

- :func:`experiment_lock`: an exclusive lock on ``<experiment>/.launch.lock`` for the
  launcher's lifetime (``fcntl.lockf``, a POSIX record lock, which Linux NFS clients, EFS
  among them, take on the server; a local disk takes it locally). A second launcher on the
  same experiment fails at once and writes nothing. Object stores (``s3://...``) have no
  locks: there nothing stops two launchers with the same ``--name``, so give each its own.
- :class:`Interruption`: SIGTERM (what ``ray job stop`` and a preempted node send) is turned
  into the stop Tune already performs for SIGINT, which saves the experiment state and ends
  the trials; afterwards the launcher knows which signal ended the run (exit status 143 for
  SIGTERM, 130 for SIGINT) and prints the exact command that resumes it.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from study.storage import is_uri

LOCK_FILE = ".launch.lock"
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class Busy(Exception):
    """Another launcher holds the experiment's lock."""


@contextmanager
def experiment_lock(path: str) -> Iterator[None]:
    """Hold the experiment directory's lock (a no-op for object-store URIs, see above).

    Raises:
        Busy: another process holds it; the message names it.
    """
    if is_uri(path):
        yield
        return
    folder = Path(path)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with open(folder / LOCK_FILE, "a+") as handle:
            yield from _locked(handle, path)
    finally:
        if created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
            (folder / LOCK_FILE).unlink()  # a launch that stopped before writing anything
            folder.rmdir()


def _locked(handle, path: str) -> Iterator[None]:
    """Take the lock on the open lock file, write who holds it, release it at the end."""
    import fcntl

    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise Busy(f"{path} is in use by another launcher ({holder}); wait for it to end or "
                   "choose another --name") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
    handle.flush()
    try:
        yield
    finally:
        fcntl.lockf(handle, fcntl.LOCK_UN)


class Interruption:
    """While active, SIGTERM stops the run as Tune's own SIGINT handling does (Tune listens
    for SIGUSR1 too, so SIGTERM is forwarded as that); :attr:`signal` is the signal that ended
    the run, if any."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous = None

    def __enter__(self) -> Interruption:
        self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)

    def _on_term(self, signum, frame) -> None:
        if self.signal is not None:
            return
        self.signal = signal.SIGTERM
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise KeyboardInterrupt  # Tune's handler is not installed (yet): stop right here
        os.kill(os.getpid(), signal.SIGUSR1)

    def exit_status(self) -> int:
        """143 after SIGTERM, else 130 (an interrupted run that saw no SIGTERM was stopped
        with SIGINT/Ctrl-C, the only other way Tune ends early)."""
        return EXIT_SIGTERM if self.signal == signal.SIGTERM else EXIT_SIGINT


def resume_command(argv: Sequence[str] | None = None) -> str:
    """The command line that continues this launch: the same arguments plus ``--resume``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join([python_command(), "-m", "study.launch", *args])


def python_command() -> str:
    """This interpreter, relative to the working directory when inside it (``.venv/bin/python``)."""
    python = sys.executable
    return os.path.relpath(python) if Path(python).is_relative_to(Path.cwd()) else python

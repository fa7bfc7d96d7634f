"""Locked, crash-safe writes of one file or one folder: after a kill at any instant the target holds the
complete old or the complete new content, never a mix (with the fallback swap of step 4: once the next
write or read has repaired it).

For a target ``P/T`` both writers follow one protocol:

1. lock    ``flock`` (non-blocking) on ``P/.T.pmsim-lock``: a second writer of ``T`` fails at once;
2. clean   leftovers of killed writers of ``T`` (``P/.T.pmsim-XXXXXXXX.tmp`` / ``.old``) are removed; a ``T``
           lost between the two renames of the fallback swap (step 4) is first restored from its ``.old``;
3. write   into ``P/.T.pmsim-XXXXXXXX.tmp``, then fsync every file and folder in it;
4. swap    a file is renamed over ``T``. A folder is exchanged with ``T`` in one step by Linux
           ``renameat2(RENAME_EXCHANGE)`` (kernel 3.15+; ext4, xfs, btrfs, tmpfs). Where the kernel or
           filesystem lacks it, ``T`` is renamed to ``.old`` and the new folder to ``T``; a kill in
           between is repaired by step 2 of the next write, or by :func:`recover` when a reader finds
           ``T`` missing;
5. sync    fsync ``P``, remove the old content, remove the lock file.

Holding the lock proves that no live writer of ``T`` owns a leftover, so step 2 is safe. Any ``OSError``
(read-only folder, disk full, file-size limit) becomes a one-line ``RunError``; the old ``T`` stays and
no temporary is left. POSIX only (``fcntl``).

Test hooks: ``_hook(step)`` runs at each step named in ``HOOKS``. With ``PMSIM_TEST_SIGNAL_AT=step`` (or
``step:STOP``, any signal name) the process sends itself SIGKILL (or that signal) there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pmsim.simulator.errors import RunError

HOOKS = ("locked", "cleaned", "written", "fsynced", "moved-away", "swapped", "synced", "removed")
HOOK_ENV = "PMSIM_TEST_SIGNAL_AT"
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100
_LIBC = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_LIBC, "renameat2", None)

Check = Callable[[Path], None]


def _hook(step: str) -> None:
    """A named step of the write; tests stop or kill the process here (see the module docstring)."""
    at, _, sig = os.environ.get(HOOK_ENV, "").partition(":")
    if at == step:
        os.kill(os.getpid(), getattr(signal, f"SIG{sig or 'KILL'}"))


def rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where the kernel, libc or filesystem does not offer it."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(dst))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(os.path.join(folder, name))
        _fsync(folder)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def leftovers(target: Path, kind: str = "tmp|old") -> list[Path]:
    """Temporaries of ``target``'s writers, recognised by name: ``.T.pmsim-XXXXXXXX.tmp`` or ``.old``."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.pmsim-[a-z0-9_]{{8}}\.(?:{kind})")
    if not target.parent.is_dir():
        return []
    return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name))


def _clean(target: Path) -> None:
    """Under the lock: restore a target lost mid-swap from its ``.old``, then remove every leftover."""
    olds = leftovers(target, "old")
    if olds and not os.path.lexists(target):
        os.rename(olds[-1], target)
        _fsync(target.parent)
    for path in leftovers(target):
        _remove(path)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold ``.T.pmsim-lock``; the file is removed on release (a waiter re-checks it locked the live file)."""
    lock = target.with_name(f".{target.name}.pmsim-lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(
                f"{target} is locked by another pmsim writer; wait for it to finish or choose another --out"
            ) from None
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.stat(lock), os.fstat(fd)):
                break
        os.close(fd)  # the holder removed the file we opened: lock the current one
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _absolute(target: str | os.PathLike[str]) -> Path:
    path = Path(os.path.abspath(target))
    if not path.name:
        raise RunError(f"cannot write to {path}: name a file or folder inside it")
    return path


def _ensure_parent(target: Path) -> None:
    existing = next(p for p in target.parents if os.path.lexists(p))
    if not existing.is_dir():
        raise RunError(f"cannot write {target}: {existing} is a file, not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _writing(given: str | os.PathLike[str], check: Check | None) -> Iterator[Path]:
    """Steps 1-2 around a write, yielding the absolute target; ``check(path as given)`` may refuse the
    target before anything is touched and again under the lock."""
    given, target = Path(given), _absolute(given)
    try:
        if check is not None:
            check(given)
        _ensure_parent(target)
        with _locked(target):
            _hook("locked")
            _clean(target)
            _hook("cleaned")
            if check is not None:
                check(given)
            yield target
    except OSError as exc:
        raise RunError(f"cannot write {given}: {_reason(exc)}") from exc


def recover(target: str | os.PathLike[str]) -> None:
    """For readers: restore a folder lost between the fallback swap's renames, unless a writer is live."""
    target = Path(os.path.abspath(target))
    if not target.name or os.path.lexists(target) or not leftovers(target, "old"):
        return
    with contextlib.suppress(RunError, OSError), _locked(target):
        _clean(target)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], check: Check | None = None) -> Iterator[Path]:
    """Yield a temporary file beside ``target``; when the block succeeds it replaces ``target``."""
    with _writing(target, check) as path:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.pmsim-", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            _hook("written")
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
            _fsync(tmp)
            _hook("fsynced")
            os.replace(tmp, path)
            _hook("swapped")
            _fsync(path.parent)
            _hook("synced")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_text(target: str | os.PathLike[str], text: str, check: Check | None = None) -> Path:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target, check) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def _swap(tmp: Path, target: Path) -> Path | None:
    """Put ``tmp`` at ``target``; returns where the old content now lies (None if there was none)."""
    if not os.path.lexists(target):
        if not rename2(tmp, target, RENAME_NOREPLACE):
            os.rename(tmp, target)
        return None
    if rename2(tmp, target, RENAME_EXCHANGE):
        return tmp
    old = tmp.with_suffix(".old")
    os.rename(target, old)
    _hook("moved-away")
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    return old


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], check: Check | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; when the block succeeds it replaces ``target`` whole."""
    with _writing(target, check) as path:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.pmsim-", suffix=".tmp", dir=path.parent))
        try:
            yield tmp
            _hook("written")
            os.chmod(tmp, 0o777 & ~_umask())
            _fsync_tree(tmp)
            _hook("fsynced")
            old = _swap(tmp, path)
            _hook("swapped")
            _fsync(path.parent)
            _hook("synced")
            if old is not None:
                _remove(old)
                _hook("removed")
        except BaseException:
            if os.path.lexists(tmp):  # the new folder, or the old one after an exchange
                _remove(tmp)
            raise

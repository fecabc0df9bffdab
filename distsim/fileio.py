"""The one place distsim writes files: atomically, only where it may, and never over a special file.

* A file is written to a temporary file beside it, then renamed over it; a folder
  (``--trace-out``) is written to a temporary folder beside it, then swapped in
  whole. An interrupted or failed run never leaves a half-written output that
  looks complete, and a reused folder never shows the previous run's files.
* Before anything runs, :func:`check_output` says whether a path can take the
  output: no FIFO, device or socket is ever replaced or read (``-o /dev/full``,
  ``-o fifo``), a file is not written where a folder is and the reverse, names fit
  the file system, and the folder it goes in can be written. A path that cannot is
  bad input (:class:`~distsim.errors.InputError`, exit code 2), reported in one
  line before any simulation, rather than a traceback after it.
* :func:`exclusive` lets one process at a time update a file it also reads (a
  sweep's CSV), so two sweeps writing one ``-o`` cannot lose each other's rows.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from distsim.errors import InputError

TEMP_PREFIX = ".distsim-"  # temporary files and folders; readers skip names starting with "."
MARKER = ".distsim-folder"  # in every folder atomic_directory writes: the next run may replace it whole
FOLDER_SUFFIXES = (".csv", ".json")  # a folder without the marker may be replaced if it holds only these
SPECIAL = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
           stat.S_IFSOCK: "a socket"}


def check_output(target: str | Path, folder: bool = False) -> Path:
    """``target`` as a Path if distsim may write a file (or, with ``folder``, a folder) there; else InputError.

    Nothing is created: the folder that would hold the output is probed with a
    temporary file that is removed at once.
    """
    target = Path(target)
    _check_names(target)
    kind = _existing_kind(target)
    if kind in SPECIAL.values():
        raise InputError(f"{target}: is {kind}; distsim writes only regular files and folders (choose another path)")
    if folder and kind == "file":
        raise InputError(f"{target}: is a file, not a folder")
    if not folder and kind == "folder":
        raise InputError(f"{target}: is a folder; give a file name")
    if folder and kind == "folder":
        _check_replaceable(target)
    _probe(_nearest_existing(target.parent), target)
    return target


def check_input_file(path: str | Path) -> Path:
    """``path`` if it is absent or a regular file, so that reading it ends (never a FIFO or /dev/zero)."""
    path = Path(path)
    kind = _existing_kind(path)
    if kind in SPECIAL.values() or kind == "folder":
        raise InputError(f"{path}: is {kind}, not a file distsim can read and rewrite")
    return path


@contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path to write; on success it replaces ``target``, on error it is removed."""
    target = check_output(target)
    with _as_input_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=target.parent)
        os.close(fd)
    try:
        with _as_input_error(target):
            yield Path(tmp)
            os.chmod(tmp, _default_mode(0o666))  # mkstemp makes 0600; the result should read like any file we write
            check_output(target)  # still not a special file (one may have appeared meanwhile)
            os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


@contextmanager
def atomic_directory(target: str | Path):
    """Yield a new temporary folder beside ``target``; on success it takes ``target``'s place whole.

    The previous content of ``target`` (a folder distsim wrote, or an empty one) is
    removed, so no stale file of an earlier run remains beside the new ones. The
    swap is one atomic exchange where the system has it (Linux renameat2), else two
    renames. On error, or if the process is interrupted, ``target`` is untouched.
    """
    target = check_output(target, folder=True)
    with _as_input_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=target.parent))
    try:
        with _as_input_error(target):
            yield tmp
            (tmp / MARKER).write_text("written by distsim; the next run writing this folder replaces it whole\n")
            os.chmod(tmp, _default_mode(0o777))
            check_output(target, folder=True)
            _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new folder on error, the old content after a swap


@contextmanager
def exclusive(target: str | Path):
    """Hold an exclusive lock on ``target`` for one writer (a lock file beside it); InputError if another has it."""
    target = Path(target)
    lock = target.parent / _lock_name(target.name)
    with _as_input_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        stream = _locked(lock, target)
    try:
        stream.write(f"{os.getpid()}\n")
        stream.flush()
        yield target
    finally:
        lock.unlink(missing_ok=True)  # while still holding it: a waiting process then sees a new file
        stream.close()


def _locked(lock: Path, target: Path):
    """The open lock file, locked by us; retried when the file we locked was removed meanwhile."""
    while True:
        stream = open(lock, "a+")
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "unknown"
            stream.close()
            raise InputError(f"{target}: another distsim process (pid {holder}) is writing this file now; "
                             "wait for it to finish or choose another output") from None
        try:
            same = os.fstat(stream.fileno()).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            stream.seek(0)
            stream.truncate()
            return stream
        stream.close()  # the holder removed the lock file as we took it: take the new one


def _lock_name(name: str) -> str:
    candidate = f".{name}.lock"
    return candidate if len(candidate.encode()) <= 255 else f"{TEMP_PREFIX}{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"


def _existing_kind(path: Path) -> str | None:
    """None when nothing is at ``path``; else 'file', 'folder' or what special file it is (links followed)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            return None  # a parent is a file: _nearest_existing reports it
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: a loop of symbolic links") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise InputError(f"{path}: the name is too long for the file system") from None
        raise InputError(f"{path}: cannot use this path: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return SPECIAL.get(stat.S_IFMT(mode), "a special file")


def _check_names(target: Path) -> None:
    """Names the file system can hold: each part at most NAME_MAX bytes, the whole at most PATH_MAX."""
    ancestor = _nearest_existing(target.parent, quiet=True)
    name_max = _pathconf(ancestor, "PC_NAME_MAX", 255)
    path_max = _pathconf(ancestor, "PC_PATH_MAX", 4096)
    longest = max((len(part.encode("utf-8", "surrogateescape")) for part in target.parts), default=0)
    if longest > name_max:
        raise InputError(f"{_short(target)}: a name in this path has {longest:,} bytes; the file system allows {name_max}")
    if len(str(target.absolute()).encode("utf-8", "surrogateescape")) >= path_max:
        raise InputError(f"{_short(target)}: the path is longer than the file system allows ({path_max} bytes)")


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else text[:38] + "..." + text[-38:]


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return default


def _nearest_existing(folder: Path, quiet: bool = False) -> Path:
    """The closest ancestor of ``folder`` (itself included) that exists; InputError if it is not a folder."""
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder):
        folder = folder.parent
    if not quiet and not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a folder, so nothing can be written under it")
    return folder


def _probe(folder: Path, target: Path) -> None:
    """Create and remove a temporary file in ``folder``: whether the output can be written there at all."""
    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".probe", dir=folder)
    except OSError as exc:
        raise InputError(f"{_short(target)}: cannot write in {folder}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(name)


def _check_replaceable(folder: Path) -> None:
    """A folder may be replaced only if distsim wrote it (its marker), or could have: empty, or only CSV and
    JSON files (and temporary folders of ours), two levels deep at most. Anything else is the user's: refuse."""
    if (folder / MARKER).is_file():
        return
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if relative.parts[0].startswith(TEMP_PREFIX):
            continue
        folder_of_runs = path.is_dir() and len(relative.parts) == 1
        data_file = path.is_file() and not path.is_symlink() and path.suffix in FOLDER_SUFFIXES and len(relative.parts) <= 2
        if not (folder_of_runs or data_file):
            raise InputError(f"{folder}: holds files distsim did not write (such as {relative}); "
                             "give a new or empty folder, or one an earlier --trace-out wrote")


def _swap_in(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; afterwards ``new`` holds the old content (or does not exist)."""
    try:
        os.rename(new, target)  # target absent, or an empty folder
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if _exchange(new, target):
        return
    old = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".old", dir=target.parent))
    os.rename(target, old / "old")
    os.rename(new, target)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 with RENAME_EXCHANGE); False where not available."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def _as_input_error(target: Path):
    """An OSError while writing ``target`` (no space, no permission, a name too long) as one clear line."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{_short(target)}: cannot write: {exc.strerror or exc}") from None


def _default_mode(full: int) -> int:
    """``full`` (0666 for files, 0777 for folders) less the process umask: what ``open``/``mkdir`` would give."""
    mask = os.umask(0)
    os.umask(mask)
    return full & ~mask

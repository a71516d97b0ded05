"""User-facing errors.

Anything a user can cause (a typo in a task name, a missing file, a malformed line) raises
`BrightEvalError`; the CLI prints its message as one line instead of a traceback.
"""


class BrightEvalError(Exception):
    """An error caused by input or environment, with a message that says how to fix it."""


class MissingDependency(BrightEvalError):
    def __init__(self, package: str, extra: str, why: str):
        super().__init__(
            f"{why} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install 'bright-eval[{extra}]'"
        )


def require(module: str, extra: str, why: str):
    """Import an optional dependency or raise a `MissingDependency` that names the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module.split(".")[0], extra, why) from exc


class DataNotFound(BrightEvalError):
    """A data file or folder that is absent (as opposed to present but broken): callers that can do
    without it (`data check` without documents, `data export` without long documents) catch this only."""


class StorageError(BrightEvalError, OSError):
    """A write that the storage refused (disk full, permission denied, read-only): one line naming the
    path. Also an OSError, so code that tolerates a failed side write (the run log) still does."""


# errno values a user fixes on their side (space, permissions), worded as they would say it.
_WRITE_ERRNOS = {"ENOSPC": "disk full (no space left on the device)", "EDQUOT": "disk quota exceeded",
                 "EACCES": "permission denied", "EPERM": "permission denied", "EROFS": "read-only file system"}


def storage_error(exc: BaseException, path: object) -> BaseException:
    """`exc` as a StorageError naming `path` when it is one of the write errors above, else `exc` itself."""
    import errno

    if isinstance(exc, StorageError) or not isinstance(exc, OSError):
        return exc
    name = errno.errorcode.get(exc.errno or -1, "")
    if name not in _WRITE_ERRNOS and isinstance(exc, PermissionError):
        name = "EACCES"  # cloud filesystems raise PermissionError without an errno
    if name not in _WRITE_ERRNOS:
        return exc
    return StorageError(f"{path}: cannot write: {_WRITE_ERRNOS[name]}; nothing half-written was kept, "
                        f"free space or fix permissions and rerun the same command to resume")

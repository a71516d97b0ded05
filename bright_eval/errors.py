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

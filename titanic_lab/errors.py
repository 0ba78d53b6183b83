"""Exception classes. Library code raises these; only the CLI prints and exits."""

from __future__ import annotations


class TitanicLabError(Exception):
    """Base class of every error titanic-lab raises on purpose (bad input, bad options)."""


class DataError(TitanicLabError, ValueError):
    """A dataset file is missing, unreadable, or has bad columns or values.

    The message names the file and the problem in one line.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class TrainingError(TitanicLabError):
    """Training cannot go on, for example because the loss became NaN or infinite."""


class OptionError(TitanicLabError, ValueError):
    """An option has a value titanic-lab cannot use."""


class UnseenCategoryWarning(UserWarning):
    """A categorical value that ``fit`` never saw: its dummy columns are all 0."""

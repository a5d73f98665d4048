"""Errors raised by crowdwise.

Every error about user input names *where* the problem is (file, row, key) and *what to
do* about it, so that a user never has to read a traceback from inside numpy.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CrowdwiseError", "InputError", "TooLargeError", "ConvergenceWarning", "InputWarning"]


class CrowdwiseError(Exception):
    """Base class of every error raised on purpose by crowdwise."""


class InputError(CrowdwiseError, ValueError):
    """Bad input data: malformed file, missing column, unknown label...

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    source : str or Path, optional
        The file (or object) the problem was found in.
    position : str, optional
        Where in it: ``"row 12"``, ``"line 3, column 7"``, ``"task '42'"``...
    fix : str, optional
        What the user can do about it.

    Examples
    --------
    >>> err = InputError("label 'cat' is not a declared class", source="votes.csv",
    ...                  position="row 3", fix="declare it in metadata.json 'classes'")
    >>> print(err)
    votes.csv, row 3: label 'cat' is not a declared class. Fix: declare it in metadata.json 'classes'.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | Path | None = None,
        position: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = None if source is None else str(source)
        self.position = position
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = ", ".join(p for p in (self.source, self.position) if p)
        msg = f"{where}: {self.problem}" if where else self.problem
        if not msg.endswith("."):
            msg += "."
        if self.fix:
            msg += f" Fix: {self.fix}"
            if not msg.endswith("."):
                msg += "."
        return msg


class TooLargeError(CrowdwiseError, MemoryError):
    """A method would need more memory than the budget allows at this size."""


class InputWarning(UserWarning):
    """Input that crowdwise reads anyway, with a change it says in one line (the file, what
    it declared, what it holds and what was done), e.g. a peerannot ``metadata.json``
    declaring fewer classes than its ``answers.json`` uses. Readers that accept
    ``strict=True`` raise an :class:`InputError` instead.

    Turn it into an error everywhere with ``warnings.simplefilter("error", InputWarning)``.
    """


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit (``max_iter``) before its stopping
    rule was met: the result may be short of a fixed point. As scikit-learn's, a
    ``UserWarning``; silence it with ``warnings.simplefilter("ignore", ConvergenceWarning)``.
    The command line prints it as one ``warning:`` line."""

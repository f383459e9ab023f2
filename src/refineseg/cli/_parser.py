"""The command line's parser: short errors that suggest the nearest valid value, for every command.

argparse's errors print the whole usage block (14 lines for ``predict``) before the one line
that matters, and an invalid choice (a mistyped command or ``--precision bf17``) gets no
suggestion (Python 3.12+ has ``suggest_on_error``; refineseg supports 3.11). :class:`Parser`
is the class of the top-level parser, and argparse makes every sub-command's parser of the same
class, so every command and option reads its errors from here.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .._suggest import did_you_mean

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with ``did you mean ...?`` for invalid choices.

    An error is printed as ``PROG: error: MESSAGE`` and a second, short line pointing to
    ``PROG --help``, instead of the full usage; the exit status stays argparse's 2.
    """

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check (3.11 to 3.14), with the choices as plain names and a suggestion
        choices = action.choices
        if choices is None or value in choices:
            return
        names = ", ".join(map(str, choices))
        hint = did_you_mean(value, choices)
        raise argparse.ArgumentError(
            action, f"invalid choice: {value!r} (choose from {names}{'; ' + hint if hint else ''})"
        )

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE`` and where the usage is, then exit with status 2.

        Args:
            message: argparse's message (``"argument --precision: invalid choice: ..."``).
        """
        self.exit(2, f"{self.prog}: error: {message}\n{self.prog}: see '{self.prog} --help' for the usage\n")

"""mkdocs hook: render the docstrings' Sphinx roles (``:class:`X```) as plain code.

The docstrings are read by Python's ``help`` and IDEs as well as by mkdocstrings, which does
not understand Sphinx roles and would print ``:class:`` before the name.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):(<code>)~?")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(r"\1", html)

"""One typed registry for everything Podium looks up by name (workloads, suites, tracks).

Modelled on ``lm_eval/api/registry.py``: registration by decorator or call, an error on a duplicate name, and a
"did you mean" suggestion on a miss. Entries are cheap declarations (specs, import paths), so looking a name up never
imports a framework; whatever is heavy is imported later by the code that builds the object.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message carries close matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message.
        return str(self.args[0])


class Registry(Generic[T]):
    """A name -> entry mapping with loud failures.

    Example:
        >>> colours = Registry[int]("colour")
        >>> colours.add("red", 1)
        >>> colours.get("red")
        1
        >>> colours.get("rde")
        Traceback (most recent call last):
        ...
        harness.registry.UnknownNameError: unknown colour 'rde'; did you mean 'red'? Known: red
    """

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._loader = loader
        self._loaded = loader is None

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._loader is not None
            self._loader()

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name``; a second entry with the same name is an error."""
        if name in self._entries:
            raise ValueError(f"duplicate {self.kind} {name!r}: it is already registered")
        self._entries[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def get(self, name: str) -> T:
        """Return the entry for ``name`` or raise :class:`UnknownNameError` with suggestions."""
        self._ensure_loaded()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} Known: {known}") from None

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

"""Enumerate every URL pattern of a urlconf and turn each into concrete paths to request.

Used by the cross-tenant test and the module contract test so that new routes are covered without a list
kept by hand. A pattern this walker cannot turn into a path that resolves back to the same view raises
`UnexercisablePattern`: teach the walker (or rename the parameter) instead of skipping the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve

ID_PARAM = re.compile(r"^(pk|id|.*_id|.*_pk)$")
# Values tried in order for a non-id parameter; the first one its regex accepts is used.
GENERIC_VALUES = (
    "trade",  # a module slug
    "MQ",  # a base64 user id (password reset links)
    "set-password",
    "zz-probe-token-0123456789",
    "1",
    "abc",
    "12345678-1234-5678-1234-567812345678",
    "x/y",
    "birthday",  # a care event (retail's care template routes accept only real events and channels)
    "sms",
    "test",  # a webhook endpoint action (send a test event)
)
CATCH_ALL_VALUE = "zz-probe-unknown/"


class UnexercisablePattern(AssertionError):
    pass


@dataclass(frozen=True)
class Route:
    """One leaf pattern: its regex pieces from the root, namespaces, name and view."""

    regexes: tuple[str, ...]
    namespaces: tuple[str, ...]
    name: str | None
    callback: Callable[..., Any]

    @property
    def label(self) -> str:
        qualified = ":".join([*self.namespaces, self.name or "<unnamed>"])
        return f"{qualified} [{''.join(self.regexes)}]"

    @property
    def namespace(self) -> str:
        return ":".join(self.namespaces)


def routes(urlconf: str) -> list[Route]:
    """Every leaf pattern of `urlconf`, depth first, in resolution order."""
    found: list[Route] = []

    def walk(patterns: Sequence[Any], regexes: tuple[str, ...], namespaces: tuple[str, ...]) -> None:
        for entry in patterns:
            here = (*regexes, entry.pattern.regex.pattern)
            if isinstance(entry, URLResolver):
                ns = (*namespaces, entry.namespace) if entry.namespace else namespaces
                walk(entry.url_patterns, here, ns)
            elif isinstance(entry, URLPattern):
                found.append(Route(here, namespaces, entry.name, entry.callback))
            else:  # pragma: no cover - Django has no other kind today
                raise UnexercisablePattern(f"unknown pattern type {type(entry)!r}")

    walk(get_resolver(urlconf).url_patterns, (), ())
    return found


_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>")


def _segments(regex: str) -> list[tuple[str, str]]:
    """Split one pattern regex into ("lit", text) and ("param:<name>", group regex) pieces."""
    text = regex
    if text.startswith("^"):
        text = text[1:]
    for end in ("\\Z", "$"):
        if text.endswith(end):
            text = text[: -len(end)]
    pieces: list[tuple[str, str]] = []
    pos = 0
    for match in _GROUP.finditer(text):
        if match.start() < pos:
            continue
        pieces.append(("lit", text[pos : match.start()]))
        depth, i = 1, match.end()
        while depth and i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        pieces.append((f"param:{match.group('name')}", text[match.end() : i - 1]))
        pos = i
    pieces.append(("lit", text[pos:]))
    return pieces


def _literal(text: str, route: Route) -> str:
    if text in (".*", ".*?"):
        return CATCH_ALL_VALUE
    if text.endswith(".*"):
        return _literal(text[:-2], route) + CATCH_ALL_VALUE
    unescaped = re.sub(r"\\(.)", r"\1", text)
    if re.search(r"[\\^$*+?()\[\]{}|]", re.sub(r"\\.", "", text)):
        raise UnexercisablePattern(f"cannot build a path for {route.label}: regex text {text!r}")
    return unescaped


def paths(route: Route, ids: Sequence[int], urlconf: str) -> Iterator[str]:
    """Concrete paths for `route`: one per id when it has an id parameter, else one. Each path is checked
    to resolve back to the same view, so a wrong guess fails here rather than testing another route."""
    pieces = [piece for regex in route.regexes for piece in _segments(regex)]
    params = [(kind[6:], rx) for kind, rx in pieces if kind.startswith("param:")]
    has_id = any(ID_PARAM.match(name) or rx in ("[0-9]+", "\\d+") for name, rx in params)
    id_values: list[int | None] = list(ids) if has_id else [None]
    for current_id in id_values:
        out = []
        for kind, value in pieces:
            if kind == "lit":
                out.append(_literal(value, route))
                continue
            name = kind[6:]
            is_id = ID_PARAM.match(name) or value in ("[0-9]+", "\\d+")
            candidates = [str(current_id)] if is_id and current_id is not None else list(GENERIC_VALUES)
            chosen = next((c for c in candidates if re.fullmatch(value, c)), None)
            if chosen is None:
                raise UnexercisablePattern(
                    f"cannot fill parameter {name!r} ({value!r}) of {route.label}; add a value to urlwalk"
                )
            out.append(chosen)
        path = "/" + "".join(out)
        match = resolve(path, urlconf)
        if match.func is not route.callback:
            raise UnexercisablePattern(f"{path} built for {route.label} resolves to {match.view_name}")
        yield path

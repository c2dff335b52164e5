"""How a module writes an API view (issue 9 section 2.8): one permission helper, real serializers for
every input, never a hand-read ``request.data``.

    class CommentCreate(APIView):
        permission_classes = [HasPerm("core.view_customers")]

        def post(self, request, pk):
            data = parse(CommentInput, request.data)          # 400 in the error shape on bad input
            comment = services.activity_comment(actor=request.user, body=data["body"], ...)

- ``HasPerm(perm, write=...)`` checks the named permission (``crm.platform.permissions``) in DRF's
  ``initial()``, that is before the handler reads the body: a role without it gets 403 whatever it sent.
  The class says which permission it checks (``required_permission(method)``), and so does the view
  (``declared_permission(view, method)``): the generic module suite reads it to walk every route as every
  role.
- ``parse(Serializer, data)`` validates and returns ``validated_data``: a body that is not a JSON object, a
  non-numeric id, a NUL byte in text are 400s with field messages (``crm.api.errors``), never 500s. Query
  parameters go through a serializer too (``parse(Filters, request.query_params)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class _NamedPermission(BasePermission):
    """Signed in and holding ``perm`` (reads) / ``write_perm`` (other methods)."""

    perm = ""
    write_perm = ""  # empty: writes need `perm` too
    writes_only = False  # reads need only a signed-in user

    @classmethod
    def required_permission(cls, method: str) -> str | None:
        if method.upper() in SAFE_METHODS:
            return None if cls.writes_only else cls.perm
        return cls.write_perm or cls.perm

    def has_permission(self, request: Request, view: Any) -> bool:
        from crm.platform.permissions import has_perm

        user = request.user
        if not (user and user.is_authenticated):
            return False
        perm = self.required_permission(request.method or "GET")
        return perm is None or has_perm(user, perm)  # type: ignore[arg-type]


def HasPerm(perm: str, *, write: str = "", writes_only: bool = False) -> type[BasePermission]:
    """``permission_classes = [HasPerm("core.view_customers")]``: a DRF permission class for one named
    permission. ``write="core.manage_settings"``: other methods than GET/HEAD/OPTIONS need that one instead.
    ``writes_only``: reads need only a signed-in user."""
    from crm.platform.permissions import permission_map

    known = permission_map()
    for name in (perm, write):
        # Fail when the view module loads on a typo, rather than with a 500 on the first request.
        if name and name not in known:
            raise KeyError(f"unknown permission {name!r}")
    label = "HasPerm_" + perm.replace(".", "_") + ("_write_" + write.replace(".", "_") if write else "")
    attrs = {"perm": perm, "write_perm": write, "writes_only": writes_only}
    return type(label, (_NamedPermission,), attrs)


def declared_permission(view: Callable[..., Any], method: str = "GET") -> str | None:
    """The permission a route's view declares for ``method``: ``required_permission`` on a function view
    (set by ``crm.platform.decorators.require_perm``), or that of the ``HasPerm`` classes of a DRF view.
    None: the view declares none (the module suite then needs an allowlist entry with a reason)."""
    found = getattr(view, "required_permission", None)
    if isinstance(found, str):
        return found
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    for permission in getattr(cls, "permission_classes", ()) or ():
        if isinstance(permission, type) and issubclass(permission, _NamedPermission):
            return permission.required_permission(method)
    return None


def parse(
    serializer_class: type[serializers.BaseSerializer[Any]],
    data: Any,
    *,
    partial: bool = False,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``data`` (a request body or ``request.query_params``) with ``serializer_class`` and return
    its validated data; invalid input raises DRF's ValidationError, which the API answers with 400 in the
    error shape. A body that is not an object is refused here with one message."""
    if not hasattr(data, "keys"):
        raise serializers.ValidationError(
            {"non_field_errors": [_("Send a JSON object.")]}, code="not_an_object"
        )
    ser = serializer_class(data=data, partial=partial, context=context or {})
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


class Text(serializers.CharField):
    """Free text from a body or a query parameter: NUL bytes refused (DRF's CharField does that), surrounding
    white space trimmed, blank allowed unless said otherwise, and a length bound by default."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


def parse_query(serializer_class: type[serializers.BaseSerializer[Any]], request: Request) -> dict[str, Any]:
    """``parse`` for query parameters: the last value of each, empty ones left out (``?owner=`` is no
    filter, as a browser form sends it), so that optional fields fall back to their defaults."""
    params = {key: value for key, value in request.query_params.items() if value != ""}
    return parse(serializer_class, params)

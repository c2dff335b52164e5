"""Conventions of every API list (issue 13, section 2): `updated_since` / `created_since` (ISO 8601; a date
alone means its start in the workspace's time zone) and `ordering` (a field name, `-` for descending, several
separated by commas). Applied by DRF to every generic list view (REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"]);
bad values answer 400 in the one error shape, an unknown ordering field is ignored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.request import Request

SINCE = (("updated_since", "updated_at"), ("created_since", "created_at"))


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def parse_since(raw: str) -> datetime | None:
    """An aware datetime from ISO 8601 text, or None when it is not one."""
    if "\x00" in raw or len(raw) > 40:
        return None
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        return None
    if value is None or value.year < 1900:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


class ChangedSinceFilter(BaseFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        for param, field in SINCE:
            raw = request.query_params.get(param)
            if raw is None:
                continue
            if not _has_field(queryset.model, field):
                raise ValidationError({param: [_("This list cannot be filtered by this date.")]})
            value = parse_since(raw)
            if value is None:
                raise ValidationError(
                    {param: [_("Enter a date or date-time in ISO 8601, e.g. 2026-12-01T08:00:00+08:00.")]}
                )
            queryset = queryset.filter(**{f"{field}__gte": value})
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        model = _view_model(view)
        return [
            {
                "name": param,
                "required": False,
                "in": "query",
                "description": f"Only rows whose {field} is at or after this ISO 8601 date or date-time.",
                "schema": {"type": "string", "format": "date-time"},
            }
            for param, field in SINCE
            if model is not None and _has_field(model, field)
        ]


class SafeOrderingFilter(OrderingFilter):
    """DRF's ordering, limited to real columns of the model (a serializer field backed by a property would
    answer 500), with the primary key last so that pages are stable."""

    ordering_description = "Sort by a field (`-field` for descending; several separated by commas)."

    def get_valid_fields(
        self, queryset: QuerySet[Any], view: Any, context: Mapping[str, Any] | None = None
    ) -> list[Any]:
        fields = super().get_valid_fields(queryset, view, context or {})
        return [(name, label) for name, label in fields if _resolvable(queryset.model, name)]

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if ordering and request.query_params.get(self.ordering_param):
            return queryset.order_by(*ordering, "-pk" if ordering[0].startswith("-") else "pk")
        return queryset

    def get_default_ordering(self, view: Any) -> None:
        return None  # the view's own ordering stays when none is asked for


def _resolvable(model: type[Model], path: str) -> bool:
    current: Any = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except (FieldDoesNotExist, AttributeError):
            return False
        if not getattr(field, "concrete", False) and not field.is_relation:
            return False
        current = field.related_model if field.is_relation else None
    return True


def _view_model(view: Any) -> type[Model] | None:
    queryset = getattr(view, "queryset", None)
    model = getattr(queryset, "model", None)
    if model is None:
        serializer_class = getattr(view, "serializer_class", None)
        model = getattr(getattr(serializer_class, "Meta", None), "model", None)
    return model

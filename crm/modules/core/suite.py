"""What the generic module suite (tests/test_module_suite.py) needs from the core and cannot guess: rows
for its list routes. ``LIST_FACTORIES`` maps a route name (``namespace:name``) to ``make_rows(*, n, owner)``,
which bulk-creates ``n`` more rows that the route lists for ``owner`` (an owner-role user). The suite
compares the queries of each list at 10 and at 500 rows; every API list route must be here.

Runs inside the tenant's schema; nothing here is imported by the application.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from .models import Activity, ActivityComment, Contact, Customer, Document, Product, Task, WeeklyReport


def _customers(n: int, owner: Any, *, pool: bool = False) -> list[Customer]:
    start = Customer.objects.count()
    now = timezone.now()
    return Customer.objects.bulk_create(
        Customer(
            name=f"套件客户{start + i}",
            name_normalized=f"套件客户{start + i}",
            owner=None if pool else owner,
            in_pool=pool,
            last_activity_at=now,
            tags=["vip"] if i % 2 else [],
        )
        for i in range(n)
    )


def customers(*, n: int, owner: Any) -> None:
    _customers(n, owner)


def pool(*, n: int, owner: Any) -> None:
    _customers(n, owner, pool=True)


def contacts(*, n: int, owner: Any) -> None:
    (customer,) = _customers(1, owner)
    Contact.objects.bulk_create(Contact(customer=customer, name=f"联系人{i}") for i in range(n))


def activities(*, n: int, owner: Any) -> None:
    (customer,) = _customers(1, owner)
    now = timezone.now()
    made = Activity.objects.bulk_create(
        Activity(customer=customer, author=owner, purpose=f"拜访{i}", occurred_at=now) for i in range(n)
    )
    ActivityComment.objects.bulk_create(ActivityComment(activity=a, author=owner, body="好") for a in made)


def tasks(*, n: int, owner: Any) -> None:
    (customer,) = _customers(1, owner)
    due = timezone.now() + timedelta(days=1)
    Task.objects.bulk_create(
        Task(title=f"回访{i}", due_at=due, owner=owner, customer=customer) for i in range(n)
    )


def products(*, n: int, owner: Any) -> None:
    start = Product.objects.count()
    Product.objects.bulk_create(Product(code=f"P{start + i:06d}", name=f"产品{start + i}") for i in range(n))


def weekly_reports(*, n: int, owner: Any) -> None:
    # One report per author and week: go back week by week from the oldest one there.
    oldest = WeeklyReport.objects.filter(author=owner).order_by("week_start").first()
    monday = oldest.week_start if oldest else date(2026, 1, 5)
    WeeklyReport.objects.bulk_create(
        WeeklyReport(author=owner, week_start=monday - timedelta(weeks=i + 1)) for i in range(n)
    )


def documents(*, n: int, owner: Any) -> None:
    (customer,) = _customers(1, owner)
    Document.objects.bulk_create(
        Document(customer=customer, file=f"suite/{i}.txt", name=f"{i}.txt", size=1, uploaded_by=owner)
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "core:customer_list": customers,
    "api-core:customer-list": customers,
    "core:pool": pool,
    "api-core:pool-list": pool,
    "api-core:contact-list": contacts,
    "api-core:activity-list": activities,
    "core:task_list": tasks,
    "api-core:task-list": tasks,
    "core:product_list": products,
    "api-core:product-list": products,
    "core:weekly_list": weekly_reports,
    "api-core:weekly-report-list": weekly_reports,
    "api-core:document-list": documents,
}

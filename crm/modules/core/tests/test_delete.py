"""Deleting customers, contacts, activities and products (issue 13 section 2): the same rules in the UI and
the API, audited, refused with a reason (and nothing changed) where business records depend on the row."""

from __future__ import annotations

import os
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.models import Activity, ActivityComment, Contact, Customer, Document, Product
from crm.tenants.accounts.models import AuditEntry

from .factories import customer

API = "/api/v1/core"


def _customer_with_rows(tenant, owner):
    with schema_context(tenant.schema):
        c = customer(owner, "删除测试有限公司")
        contact = Contact.objects.create(customer=c, name="王经理")
        activity = Activity.objects.create(
            customer=c, author=owner, result="拜访", occurred_at=timezone.now()
        )
        ActivityComment.objects.create(activity=activity, author=owner, body="好")
        doc = Document(customer=c, name="合同.pdf", size=3)
        doc.file.save("合同.pdf", ContentFile(b"pdf"), save=True)
        return c, contact, activity, doc.file.path


def test_owner_deletes_a_customer_with_its_rows_and_file_and_it_is_audited(
    alpha, django_capture_on_commit_callbacks
):
    # Given a customer of the rep with a contact, an activity with a comment and a file
    c, _contact, _activity, path = _customer_with_rows(alpha, alpha.users["sales"])
    # When the rep tries, then the owner deletes it through the API
    assert alpha.client("sales").delete(f"{API}/customers/{c.pk}/").status_code == 403
    assert os.path.exists(path)
    with django_capture_on_commit_callbacks(execute=True):
        response = alpha.client("owner").delete(f"{API}/customers/{c.pk}/")
    # Then it is gone with its rows, the file is removed after the commit, the audit trail names it
    assert response.status_code == 204
    assert not os.path.exists(path)
    with schema_context(alpha.schema):
        assert not Customer.objects.filter(pk=c.pk).exists()
        assert not Contact.objects.filter(customer_id=c.pk).exists()
        assert not Activity.objects.filter(customer_id=c.pk).exists()
        entry = AuditEntry.objects.filter(action="customer.delete").latest("id")
        assert entry.detail["name"] == "删除测试有限公司"
    assert alpha.schema in path  # the tenant's own folder


def test_a_customer_with_module_rows_is_refused_and_nothing_changes(alpha):
    # Given a customer with a row of another module pointing at it (the dummy module's note)
    from tests.dummy_module.models import DummyNote

    with schema_context(alpha.schema):
        c = customer(alpha.users["owner"], "有订单的客户")
        DummyNote.objects.create(customer=c, owner=alpha.users["owner"], text="x")
        Contact.objects.create(customer=c, name="李四")
    # When the owner deletes it
    response = alpha.client("owner").delete(f"{API}/customers/{c.pk}/")
    # Then 400 with a translated reason, and the customer and its contact are still there
    assert response.status_code == 400
    assert "合并" in response.json()["error"]["message"]
    with schema_context(alpha.schema):
        assert Customer.objects.filter(pk=c.pk).exists()
        assert Contact.objects.filter(customer=c).count() == 1


def test_customer_delete_page_needs_the_permission_and_confirms(alpha):
    c, _contact, _activity, _path = _customer_with_rows(alpha, alpha.users["sales"])
    rep_page = alpha.client("sales").get(f"/customers/{c.pk}/")
    assert b'data-testid="customer-delete"' not in rep_page.content
    assert alpha.client("sales").post(f"/customers/{c.pk}/delete/").status_code == 403
    owner = alpha.client("owner")
    page = owner.get(f"/customers/{c.pk}/")
    assert b'data-testid="customer-delete"' in page.content and b"data-confirm" in page.content
    response = owner.post(f"/customers/{c.pk}/delete/")
    assert response.status_code == 302 and response["Location"].endswith("/customers/")
    with schema_context(alpha.schema):
        assert not Customer.objects.filter(pk=c.pk).exists()


def test_contact_delete_follows_who_may_edit_the_customer(alpha):
    _c, contact, _activity, _path = _customer_with_rows(alpha, alpha.users["sales"])
    # A colleague who cannot see the customer gets 404; the rep who owns it deletes
    assert alpha.client("sales2").delete(f"{API}/contacts/{contact.pk}/").status_code == 404
    assert alpha.client("sales").delete(f"{API}/contacts/{contact.pk}/").status_code == 204
    with schema_context(alpha.schema):
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert AuditEntry.objects.filter(action="contact.delete").exists()


def test_activity_delete_by_its_author_or_an_admin_only(alpha):
    u = alpha.users
    c, _contact, activity, _path = _customer_with_rows(alpha, u["sales"])
    with schema_context(alpha.schema):
        by_manager = Activity.objects.create(
            customer=c, author=u["manager"], result="电话", occurred_at=timezone.now()
        )
    # The rep (not its author) may not delete the manager's activity; the admin may; the author deletes his
    assert alpha.client("sales").delete(f"{API}/activities/{by_manager.pk}/").status_code == 403
    assert alpha.client("sales").delete(f"{API}/activities/{activity.pk}/").status_code == 204
    assert alpha.client("admin").delete(f"{API}/activities/{by_manager.pk}/").status_code == 204
    with schema_context(alpha.schema):
        assert not Activity.objects.filter(pk__in=[activity.pk, by_manager.pk]).exists()
        assert not ActivityComment.objects.filter(activity_id=activity.pk).exists()


def test_activity_delete_page(alpha):
    c, _contact, activity, _path = _customer_with_rows(alpha, alpha.users["sales"])
    rep = alpha.client("sales")
    assert b'data-testid="activity-delete"' in rep.get(f"/customers/{c.pk}/").content
    assert rep.post(f"/activities/{activity.pk}/delete/").status_code == 302
    with schema_context(alpha.schema):
        assert not Activity.objects.filter(pk=activity.pk).exists()


def test_product_delete_refused_while_a_document_line_uses_it(alpha):
    from tests.dummy_module.models import DummyOrder, DummyOrderLine

    with schema_context(alpha.schema):
        free = Product.objects.create(name="闲置产品", price=Decimal("10"))
        used = Product.objects.create(name="在用产品", price=Decimal("10"))
        order = DummyOrder.objects.create(number="DO-T-1", state="draft", owner=alpha.users["owner"])
        DummyOrderLine.objects.create(
            document=order,
            product=used,
            description="x",
            quantity=Decimal("1"),
            unit_price_incl=Decimal("10"),
        )
    assert alpha.client("sales").delete(f"{API}/products/{free.pk}/").status_code == 403
    manager = alpha.client("manager")
    refused = manager.delete(f"{API}/products/{used.pk}/")
    assert refused.status_code == 400 and "停用" in refused.json()["error"]["message"]
    assert manager.delete(f"{API}/products/{free.pk}/").status_code == 204
    assert manager.post(f"/products/{used.pk}/delete/").status_code == 302  # the page shows the refusal
    with schema_context(alpha.schema):
        assert list(Product.objects.filter(pk__in=[free.pk, used.pk]).values_list("name", flat=True)) == [
            "在用产品"
        ]


def test_deletes_never_reach_another_workspace(alpha, beta):
    c, contact, activity, _path = _customer_with_rows(alpha, alpha.users["owner"])
    with schema_context(alpha.schema):
        product = Product.objects.create(name="甲方产品", price=Decimal("1"))
    # When beta's owner sends deletes with alpha's ids (ids are per schema: beta may have rows with the same
    # ids, and then it is beta's own row that is addressed)
    other = beta.client("owner")
    for path in (
        f"{API}/customers/{c.pk}/",
        f"{API}/contacts/{contact.pk}/",
        f"{API}/activities/{activity.pk}/",
        f"{API}/products/{product.pk}/",
        f"/customers/{c.pk}/delete/",
        f"/contacts/{contact.pk}/delete/",
        f"/activities/{activity.pk}/delete/",
        f"/products/{product.pk}/delete/",
    ):
        (other.delete if path.startswith(API) else other.post)(path)
    # Then every row of alpha is still there
    with schema_context(alpha.schema):
        assert Customer.objects.filter(pk=c.pk).exists() and Product.objects.filter(pk=product.pk).exists()
        assert (
            Contact.objects.filter(pk=contact.pk).exists()
            and Activity.objects.filter(pk=activity.pk).exists()
        )

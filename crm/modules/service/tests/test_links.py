"""Customer links: merge moves agreements, orders and visits; handover moves the owner of the open ones."""

from __future__ import annotations

from crm.kernel import hooks
from crm.modules.service import services
from crm.modules.service.models import Agreement, ServiceOrder

from .factories import make_order, to_public


def test_merge_and_handover(alpha, desk):
    from django_tenants.utils import schema_context

    users = alpha.users
    with schema_context(alpha.schema):
        open_order = make_order(desk, users)
        done = make_order(desk, users)
        services.order_transition(actor=desk.tech, order=done, action="resolve")
        moved = hooks.links_handover_move(
            by_target={users["sales2"].pk: [desk.customer.pk]}, from_user_id=users["sales"].pk
        )
        assert moved["service.Agreement"] == 1 and moved["service.ServiceOrder"] == 1
        assert moved["service.ReturnVisit"] == 1  # the visit scheduled at resolution
        assert ServiceOrder.objects.get(pk=open_order.pk).owner == users["sales2"]
        assert ServiceOrder.objects.get(pk=done.pk).owner == users["sales"]  # resolved: stays
        assert ServiceOrder.objects.get(pk=open_order.pk).assignee == desk.tech  # the technician stays
        merged = hooks.links_merge(source_id=desk.customer.pk, target_id=desk.other.pk)
        assert merged["service.Agreement"] == 1 and merged["service.ServiceOrder"] == 2
        assert Agreement.objects.get(pk=desk.agreement.pk).customer_id == desk.other.pk
    to_public()

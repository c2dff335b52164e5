"""REST API of the documents area (/api/v1/sales/): quotes, contracts and orders, their transitions,
revisions, PDFs and the contracts export. Same permissions and data scope as the pages; unit costs and
margins only as costs.py allows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.kernel.exports import FORMATS, XLSX, export_response
from crm.modules.core.public import Contact, customer_get
from crm.platform.errors import NotFound, ServiceError

from . import costs
from . import selectors_documents as sel
from . import services_documents as svc
from .models import Contract, ContractRevision, Quote


def _actor(request: Request) -> Any:
    return request.user


# --- serializers ---------------------------------------------------------------------------------------


class LineOutSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    product = serializers.IntegerField(source="product_id", allow_null=True)
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4)
    unit = serializers.CharField()
    unit_price_incl = serializers.DecimalField(max_digits=14, decimal_places=4)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    unit_cost_excl = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        allow_null=True,
        required=False,
        help_text="Only for holders of sales.view_costs (absent for the others).",
    )
    amount_incl = serializers.DecimalField(max_digits=16, decimal_places=2)
    amount_excl = serializers.DecimalField(max_digits=16, decimal_places=2)
    amount_tax = serializers.DecimalField(max_digits=16, decimal_places=2)


class LineInSerializer(serializers.Serializer):
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    description = Text(max_length=300)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4)
    unit = Text(max_length=20)
    unit_price_incl = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True
    )
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, allow_null=True)
    discount_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, default=Decimal("0")
    )
    unit_cost_excl = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True
    )


def _cost_free(lines: Any, request: Request) -> list[dict[str, Any]]:
    rows = [dict(r) for r in lines]
    if not costs.can_see_costs(_actor(request)):
        for row in rows:
            row.pop("unit_cost_excl", None)
    return rows


def _lines(rows: list[dict[str, Any]], request: Request, whole_discount: Any = None) -> list[Any]:
    return svc.lines_from_rows(_cost_free(rows, request), whole_discount=whole_discount)


class _DocumentOut(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    discount_percent = serializers.DecimalField(max_digits=7, decimal_places=2, read_only=True)
    margin_percent = serializers.SerializerMethodField()
    cost_excl = serializers.SerializerMethodField()

    def _may(self, percent: bool) -> bool:
        user = self.context["request"].user
        return costs.can_see_margin_percent(user) if percent else costs.can_see_costs(user)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_margin_percent(self, obj: Any) -> str | None:
        value = obj.margin_percent if self._may(True) else None
        return None if value is None else str(value)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cost_excl(self, obj: Any) -> str | None:
        value = obj.cost_excl if self._may(False) else None
        return None if value is None else str(value)


COMMON = [
    "id",
    "number",
    "state",
    "customer",
    "customer_name",
    "contact",
    "owner",
    "owner_name",
    "title",
    "currency",
    "total_incl",
    "total_excl",
    "total_tax",
    "discount_percent",
    "margin_percent",
    "cost_excl",
    "terms",
    "created_at",
]


class QuoteSerializer(_DocumentOut):
    class Meta:
        model = Quote
        fields = [
            *COMMON,
            "opportunity",
            "root",
            "version",
            "valid_until",
            "sent_at",
            "decided_at",
            "decision_reason",
        ]


class ContractSerializer(_DocumentOut):
    is_overdue = serializers.BooleanField(read_only=True, default=False)
    # Plain strings in the schema: the choice sets are documented in the help texts.
    kind = serializers.CharField(read_only=True, help_text="contract or order")
    delivery_status = serializers.CharField(read_only=True, help_text="none, partial or full")
    invoice_status = serializers.CharField(read_only=True, help_text="none, partial or full")
    payment_status = serializers.CharField(read_only=True, help_text="none, partial or full")

    class Meta:
        model = Contract
        fields = [
            *COMMON,
            "kind",
            "opportunity",
            "quote",
            "payment_days",
            "prepayment_percent",
            "delivery_terms",
            "start_date",
            "end_date",
            "signed_on",
            "confirmed_at",
            "revision",
            "cancel_reason",
            "delivery_status",
            "invoice_status",
            "payment_status",
            "invoiced_amount",
            "paid_amount",
            "is_overdue",
        ]


class QuoteDetailSerializer(QuoteSerializer):
    """A quote with its lines (what the detail, create, update and action routes answer)."""

    lines = LineOutSerializer(many=True, read_only=True)

    class Meta(QuoteSerializer.Meta):
        fields = [*QuoteSerializer.Meta.fields, "lines"]


class ContractDetailSerializer(ContractSerializer):
    """A contract or order with its lines."""

    lines = LineOutSerializer(many=True, read_only=True)

    class Meta(ContractSerializer.Meta):
        fields = [*ContractSerializer.Meta.fields, "lines"]


def _detail(serializer: type[_DocumentOut], document: Any, request: Request) -> dict[str, Any]:
    data = dict(serializer(document, context={"request": request}).data)
    data["lines"] = _cost_free(LineOutSerializer(document.lines.all(), many=True).data, request)
    return data


class ListQuery(serializers.Serializer):
    q = Text(max_length=100)
    state = Text(max_length=30)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    owner = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    month = serializers.RegexField(r"^\d{4}-\d{2}$", required=False)


KIND = r"^(contract|order)$"


class ContractListQuery(ListQuery):
    kind = serializers.RegexField(KIND, required=False, help_text="contract or order")


LIST_PARAMS = [
    OpenApiParameter("q", str, description="Number, title or customer name contains."),
    OpenApiParameter("state", str),
    OpenApiParameter("customer", int),
    OpenApiParameter("owner", int),
    OpenApiParameter("month", str, description="YYYY-MM (quotes: created; contracts: signed)."),
]


class QuoteCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**62)
    contact = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    title = Text(max_length=200)
    valid_until = serializers.DateField(required=False, allow_null=True)
    terms = serializers.CharField(required=False, allow_blank=True, max_length=10000, allow_null=True)
    whole_discount = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    lines = LineInSerializer(many=True, required=False)


class QuoteUpdateSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    title = Text(max_length=200)
    valid_until = serializers.DateField(required=False, allow_null=True)
    terms = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    whole_discount = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    lines = LineInSerializer(many=True, required=False)


def _contact(customer: Any, pk: int | None) -> Any:
    if pk is None:
        return None
    found = Contact.objects.filter(pk=pk, customer=customer).first()
    if found is None:
        raise ServiceError(_("The contact belongs to another customer."), field="contact")
    return found


@extend_schema_view(get=extend_schema(parameters=LIST_PARAMS))
class QuoteList(generics.ListCreateAPIView):
    """GET: quotes in the data scope; POST: a draft quote for a customer."""

    serializer_class = QuoteSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    def get_queryset(self) -> QuerySet[Quote]:
        return sel.quote_list(actor=_actor(self.request), **parse_query(ListQuery, self.request))

    @extend_schema(request=QuoteCreateSerializer, responses={201: QuoteDetailSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = parse(QuoteCreateSerializer, request.data)
        customer = _customer(request, data["customer"])
        quote = svc.quote_create(
            actor=_actor(request),
            customer=customer,
            contact=_contact(customer, data.get("contact")),
            title=data.get("title", ""),
            valid_until=data.get("valid_until"),
            terms=data.get("terms"),
            lines=_lines(data.get("lines") or [], request, data.get("whole_discount")),
        )
        return Response(_detail(QuoteSerializer, quote, request), status=status.HTTP_201_CREATED)


def _customer(request: Request, pk: int) -> Any:
    from django.http import Http404

    try:
        return customer_get(_actor(request), pk)
    except Http404:
        raise NotFound(_("No such customer.")) from None


class QuoteDetail(APIView):
    """GET: a quote with its lines; PATCH: header and/or all lines while a draft."""

    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    @extend_schema(responses={200: QuoteDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(QuoteSerializer, sel.quote_get(actor=_actor(request), pk=pk), request))

    @extend_schema(request=QuoteUpdateSerializer, responses={200: QuoteDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        data = parse(QuoteUpdateSerializer, request.data)
        lines = data.pop("lines", None)
        whole = data.pop("whole_discount", None)
        if "contact" in data:
            data["contact"] = _contact(quote.customer, data["contact"])
        svc.quote_update(
            actor=_actor(request),
            quote=quote,
            lines=None if lines is None else _lines(lines, request, whole),
            **data,
        )
        return Response(_detail(QuoteSerializer, sel.quote_get(actor=_actor(request), pk=pk), request))


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    reason = Text(max_length=300)


class QuoteTransition(APIView):
    """POST {name: send|accept|reject|cancel, reason}."""

    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    @extend_schema(request=TransitionSerializer, responses={200: QuoteDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(TransitionSerializer, request.data)
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        if data["name"] == "send":
            sent = svc.quote_send(actor=_actor(request), quote=quote)
            body = _detail(QuoteSerializer, sel.quote_get(actor=_actor(request), pk=pk), request)
            return Response(body, status=status.HTTP_200_OK if sent else status.HTTP_202_ACCEPTED)
        svc.quote_transition(
            actor=_actor(request), quote=quote, name=data["name"], reason=data.get("reason", "")
        )
        return Response(_detail(QuoteSerializer, sel.quote_get(actor=_actor(request), pk=pk), request))


class QuoteRevise(APIView):
    """POST: a new version (the old one superseded)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    @extend_schema(request=None, responses={201: QuoteDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        new = svc.quote_revise(actor=_actor(request), quote=quote)
        return Response(_detail(QuoteSerializer, new, request), status=status.HTTP_201_CREATED)


class ConvertSerializer(serializers.Serializer):
    kind = serializers.RegexField(KIND, required=False, default="contract", help_text="contract or order")


class QuoteConvert(APIView):
    """POST {kind: contract|order}: a draft contract or order from an accepted quote."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(request=ConvertSerializer, responses={201: ContractDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(ConvertSerializer, request.data)
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        contract = svc.contract_from_quote(actor=_actor(request), quote=quote, kind=data["kind"])
        return Response(_detail(ContractSerializer, contract, request), status=status.HTTP_201_CREATED)


class EmailSerializer(serializers.Serializer):
    to = serializers.EmailField()
    subject = serializers.CharField(max_length=200)
    message = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")


class QuoteEmail(APIView):
    """POST {to, subject, message}: the PDF sent after commit; logged on the customer."""

    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    @extend_schema(request=EmailSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(EmailSerializer, request.data)
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        activity = svc.quote_email(actor=_actor(request), quote=quote, **data)
        return Response({"activity": activity.pk}, status=status.HTTP_202_ACCEPTED)


class QuotePdf(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.quote_edit")]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        quote = sel.quote_get(actor=_actor(request), pk=pk)
        response = HttpResponse(sel.quote_pdf(quote), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{quote.number}.pdf"'
        return response


# --- contracts -----------------------------------------------------------------------------------------


class ContractFieldsSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    kind = serializers.RegexField(KIND, required=False, help_text="contract or order")
    title = Text(max_length=200)
    payment_days = serializers.IntegerField(required=False, min_value=0, max_value=3650)
    prepayment_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, min_value=0, max_value=100
    )
    delivery_terms = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    signed_on = serializers.DateField(required=False, allow_null=True)
    terms = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    whole_discount = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    lines = LineInSerializer(many=True, required=False)


class ContractCreateSerializer(ContractFieldsSerializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**62)


@extend_schema_view(
    get=extend_schema(
        parameters=[*LIST_PARAMS, OpenApiParameter("kind", str, description="contract or order")]
    )
)
class ContractList(generics.ListCreateAPIView):
    """GET: contracts and orders in the data scope (with the overdue flag); POST: a draft for a customer."""

    serializer_class = ContractSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    def get_queryset(self) -> QuerySet[Contract]:
        return sel.contract_list(actor=_actor(self.request), **parse_query(ContractListQuery, self.request))

    @extend_schema(request=ContractCreateSerializer, responses={201: ContractDetailSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = parse(ContractCreateSerializer, request.data)
        customer = _customer(request, data.pop("customer"))
        lines = _lines(data.pop("lines", None) or [], request, data.pop("whole_discount", None))
        data["contact"] = _contact(customer, data.get("contact"))
        contract = svc.contract_create(actor=_actor(request), customer=customer, lines=lines, **data)
        return Response(_detail(ContractSerializer, contract, request), status=status.HTTP_201_CREATED)


class ContractDetail(APIView):
    """GET: a contract with its lines; PATCH: header and/or lines while a draft (a confirmed one changes
    only through a revision)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(responses={200: ContractDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(ContractSerializer, sel.contract_get(actor=_actor(request), pk=pk), request))

    @extend_schema(request=ContractFieldsSerializer, responses={200: ContractDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        contract = sel.contract_get(actor=_actor(request), pk=pk)
        data = parse(ContractFieldsSerializer, request.data)
        lines = data.pop("lines", None)
        whole = data.pop("whole_discount", None)
        if "contact" in data:
            data["contact"] = _contact(contract.customer, data["contact"])
        svc.contract_update(
            actor=_actor(request),
            contract=contract,
            lines=None if lines is None else _lines(lines, request, whole),
            **data,
        )
        return Response(_detail(ContractSerializer, sel.contract_get(actor=_actor(request), pk=pk), request))


class ContractTransition(APIView):
    """POST {name: submit|reopen|confirm|complete|cancel, reason}."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(request=TransitionSerializer, responses={200: ContractDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(TransitionSerializer, request.data)
        contract = sel.contract_get(actor=_actor(request), pk=pk)
        svc.contract_transition(
            actor=_actor(request), contract=contract, name=data["name"], reason=data.get("reason", "")
        )
        return Response(_detail(ContractSerializer, sel.contract_get(actor=_actor(request), pk=pk), request))


class ContractPdf(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        contract = sel.contract_get(actor=_actor(request), pk=pk)
        response = HttpResponse(sel.contract_pdf(contract), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{contract.number}.pdf"'
        return response


class ExportQuery(ListQuery):
    type = serializers.ChoiceField(choices=FORMATS, required=False, default="csv")
    kind = serializers.RegexField(KIND, required=False, help_text="contract or order")


def export_contracts(contracts: QuerySet[Contract], *, fmt: str = "csv") -> HttpResponseBase:
    columns = [
        _("Number"),
        _("Kind"),
        _("Customer"),
        _("Title"),
        _("State"),
        _("Signed on"),
        _("Total (tax incl.)"),
        _("Total (tax excl.)"),
        _("Tax"),
        _("Delivered"),
        _("Invoiced"),
        _("Paid"),
        _("Overdue"),
        _("Owner"),
    ]
    rows = (
        [
            c.number,
            c.get_kind_display(),
            c.customer.name,
            c.title,
            c.get_state_display(),
            c.signed_on,
            c.total_incl,
            c.total_excl,
            c.total_tax,
            c.get_delivery_status_display(),
            c.get_invoice_status_display(),
            c.get_payment_status_display(),
            _("yes") if getattr(c, "is_overdue", False) else "",
            c.owner.name,
        ]
        for c in contracts.iterator(chunk_size=2000)
    )
    return export_response(rows=rows, columns=columns, filename="contracts", fmt=fmt)


class ContractExport(APIView):
    """GET ?type=csv|xlsx and the list's filters: the contracts in the data scope as a download."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(
        parameters=[*LIST_PARAMS, OpenApiParameter("type", str, enum=list(FORMATS), default="csv")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY},
    )
    def get(self, request: Request) -> HttpResponseBase:
        data = parse_query(ExportQuery, request)
        fmt = data.pop("type")
        return export_contracts(sel.contract_list(actor=_actor(request), **data), fmt=fmt)


# --- revisions -----------------------------------------------------------------------------------------


class RevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractRevision
        fields = [
            "id",
            "contract",
            "number",
            "state",
            "reason",
            "total_before",
            "total_after",
            "requested_by",
            "applied_at",
            "created_at",
        ]


class DiffRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="added, removed, changed or same")
    description = serializers.CharField()
    changes = serializers.ListField(child=serializers.CharField())


class RevisionCreateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    lines = LineInSerializer(many=True)
    payment_days = serializers.IntegerField(required=False, min_value=0, max_value=3650)
    prepayment_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, min_value=0, max_value=100
    )
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)


class ContractRevisions(APIView):
    """GET: the contract's revisions (a handful: not paginated); POST: a draft revision."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(responses={200: RevisionSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        contract = sel.contract_get(actor=_actor(request), pk=pk)
        return Response(RevisionSerializer(sel.revisions_of(contract), many=True).data)

    @extend_schema(request=RevisionCreateSerializer, responses={201: RevisionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(RevisionCreateSerializer, request.data)
        contract = sel.contract_get(actor=_actor(request), pk=pk)
        existing = {(ln.product_id, ln.description): ln.unit_cost_excl for ln in contract.lines.all()}
        rows = _cost_free(data.pop("lines"), request)
        if not costs.can_see_costs(_actor(request)):
            for row in rows:
                kept = existing.get((row.get("product"), row.get("description", "")))
                if kept is not None and not row.get("product"):
                    row["unit_cost_excl"] = kept
        reason = data.pop("reason")
        revision = svc.revision_create(
            actor=_actor(request),
            contract=contract,
            reason=reason,
            lines=svc.lines_from_rows(rows),
            terms=data,
        )
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)


def _revision_body(revision: ContractRevision) -> dict[str, Any]:
    body = dict(RevisionSerializer(revision).data)
    body["diff"] = [
        {"kind": d.kind, "description": d.description, "changes": list(d.changes)}
        for d in svc.revision_diff(revision)
    ]
    return body


class RevisionDetail(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(responses={200: RevisionSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_revision_body(sel.revision_get(actor=_actor(request), pk=pk)))


class RevisionActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["submit", "withdraw", "approve", "reject"])
    comment = Text(max_length=2000)


class RevisionAction(APIView):
    """POST {action: submit|withdraw|approve|reject, comment}."""

    permission_classes = [IsAuthenticated, HasPerm("sales.contract_edit")]

    @extend_schema(request=RevisionActionSerializer, responses={200: RevisionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(RevisionActionSerializer, request.data)
        revision = sel.revision_get(actor=_actor(request), pk=pk)
        actor, action, comment = _actor(request), data["action"], data.get("comment", "")
        if action == "submit":
            revision = svc.revision_submit(actor=actor, revision=revision)
        elif action == "withdraw":
            revision = svc.revision_withdraw(actor=actor, revision=revision)
        else:
            revision = svc.revision_decide(
                actor=actor, revision=revision, approve=action == "approve", comment=comment
            )
        return Response(_revision_body(revision))

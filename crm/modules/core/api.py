"""REST API of the core (/api/v1/core/): thin views over the same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.kernel.exports import FORMATS
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import exports, import_kinds, imports, onboarding, sample, selectors, services
from .models import (
    Activity,
    ActivityComment,
    Contact,
    Customer,
    CustomFieldDefinition,
    Document,
    ImportJob,
    Product,
    Task,
    WeeklyReport,
)


class CustomerBrief(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "owner", "owner_name"]


class CustomerSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name", default=None, read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=30), required=False)
    custom_fields = serializers.DictField(required=False)
    allow_duplicate = serializers.BooleanField(write_only=True, required=False, default=False)
    contact_name = serializers.CharField(write_only=True, required=False, default="", allow_blank=True)
    contact_title = serializers.CharField(write_only=True, required=False, default="", allow_blank=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "kind",
            "name",
            "phone",
            "email",
            "province",
            "city",
            "address",
            "tags",
            "source",
            "stage",
            "owner",
            "owner_name",
            "in_pool",
            "last_activity_at",
            "custom_fields",
            "notes",
            "created_at",
            "updated_at",
            "allow_duplicate",
            "contact_name",
            "contact_title",
        ]
        read_only_fields = ["owner", "in_pool", "last_activity_at", "created_at", "updated_at"]
        # Validation (email, choices, custom fields) is the service's; the serializer only parses types.
        extra_kwargs = {"email": {"validators": []}, "name": {"required": True}}


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "customer", "name", "title", "role", "phone", "email", "is_primary", "created_at"]
        read_only_fields = ["created_at"]


class CommentSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = ActivityComment
        fields = ["id", "author", "author_name", "body", "created_at"]


class ActivitySerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.name", default=None, read_only=True, allow_null=True)
    comments = CommentSerializer(many=True, read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "customer",
            "author",
            "author_name",
            "kind",
            "purpose",
            "result",
            "next_step",
            "next_step_at",
            "occurred_at",
            "comments",
            "created_at",
        ]
        read_only_fields = ["author", "created_at"]
        extra_kwargs = {"occurred_at": {"required": False}}


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "title", "due_at", "owner", "customer", "done_at", "created_at"]
        read_only_fields = ["owner", "done_at", "created_at"]


class ProductSerializer(serializers.ModelSerializer):
    vat_rate = serializers.DecimalField(
        max_digits=4,
        decimal_places=2,
        required=False,
        help_text="Default VAT rate: 0.13, 0.09, 0.06, 0.03, 0.01 or 0.",
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "specification",
            "unit",
            "price",
            "currency",
            "cost",
            "vat_rate",
            "category",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        validators: list[Any] = []  # the service refuses duplicates with a clear message


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class CustomerQuery(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1)


class SearchQuery(serializers.Serializer):
    q = Text()


class CustomerFilterQuery(serializers.Serializer):
    q = Text()
    stage = Text(max_length=30)
    owner = serializers.IntegerField(required=False, min_value=1)
    tag = Text(max_length=30)


class CustomerExportQuery(CustomerFilterQuery):
    type = serializers.ChoiceField(choices=FORMATS, required=False, default="csv")


def _customer_filters(request: Request, serializer: type[CustomerFilterQuery] = CustomerFilterQuery) -> Any:
    p = parse_query(serializer, request)
    filters = selectors.CustomerFilters(
        q=p.get("q", ""), stage=p.get("stage", ""), owner=p.get("owner"), tag=p.get("tag", "")
    )
    return filters, p


def _of_customer(qs: QuerySet[Any], request: Request) -> QuerySet[Any]:
    """Narrow a list of customer-attached records to `?customer=<id>` when given."""
    customer = parse_query(CustomerQuery, request).get("customer")
    return qs.filter(customer_id=customer) if customer else qs


def _visible_customer(request: Request, pk: Any) -> Customer:
    try:
        return selectors.customer_get(_actor(request), int(pk))
    except (TypeError, ValueError):
        raise ServiceError(_("Choose a customer."), field="customer") from None


# OpenAPI documentation: APIViews declare their request and response shapes with @extend_schema; the
# request serializers named there are the ones the view parses its input with (crm.kernel.api.parse).

CUSTOMER_FILTERS = [
    OpenApiParameter("q", str, description="Name, phone or pinyin initials."),
    OpenApiParameter("stage", str, description="Only customers at this stage."),
    OpenApiParameter("owner", int, description="Only customers of this owner (user id)."),
    OpenApiParameter("tag", str, description="Only customers with this tag."),
]
CUSTOMER_PARAMETER = OpenApiParameter("customer", int, description="Only rows of this customer (id).")
QUERY_PARAMETER = OpenApiParameter("q", str, description="Search text.")


class DuplicateCustomerError(serializers.Serializer):
    """The 409 answer of a customer create that would duplicate existing customers."""

    error = inline_serializer(
        "DuplicateCustomerErrorBody",
        {
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            "duplicates": CustomerBrief(many=True),
        },
    )


@extend_schema_view(
    get=extend_schema(parameters=CUSTOMER_FILTERS),
    post=extend_schema(
        responses={
            201: CustomerSerializer,
            409: OpenApiResponse(
                DuplicateCustomerError,
                description="Customers with the same phone, email or name exist; resend with "
                "allow_duplicate=true, or merge.",
            ),
        }
    ),
)
class CustomerList(generics.ListCreateAPIView):
    serializer_class = CustomerSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[Customer]:
        filters, _p = _customer_filters(self.request)
        return selectors.customer_list(_actor(self.request), filters)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        try:
            customer = services.customer_create(actor=_actor(request), **data)
        except services.DuplicateCustomer as exc:
            # The duplicates warning: who already has it; resend with allow_duplicate=true, or merge.
            return Response(
                {
                    "error": {
                        "code": exc.code,
                        "message": str(exc.message),
                        "fields": {},
                        "duplicates": CustomerBrief(exc.duplicates, many=True).data,
                    }
                },
                status=exc.status,
            )
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetail(generics.RetrieveUpdateDestroyAPIView):
    """GET / PATCH / DELETE one visible customer (DELETE: owners and admins, and only while no other module
    has rows on it: 400 with the reason otherwise)."""

    serializer_class = CustomerSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_object(self) -> Customer:
        return _visible_customer(self.request, self.kwargs["pk"])

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.customer_delete(actor=_actor(request), customer=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customer = self.get_object()
        ser = self.get_serializer(customer, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = {k: v for k, v in ser.validated_data.items() if k in services.CUSTOMER_FIELDS}
        customer = services.customer_update(actor=_actor(request), customer=customer, **data)
        return Response(CustomerSerializer(customer).data)


@extend_schema_view(get=extend_schema(parameters=[CUSTOMER_PARAMETER]))
class ContactList(generics.ListCreateAPIView):
    serializer_class = ContactSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[Contact]:
        qs = selectors.contacts_visible(_actor(self.request))
        return _of_customer(qs, self.request)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        customer = _visible_customer(request, data.pop("customer").pk)
        contact = services.contact_create(actor=_actor(request), customer=customer, **data)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactDetail(APIView):
    """GET / PATCH / DELETE one contact of a visible customer (writes: who may edit the customer)."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def _contact(self, request: Request, pk: int) -> Contact:
        return get_object_or_404(
            selectors.contacts_visible(_actor(request)).select_related("customer"), pk=pk
        )

    @extend_schema(responses=ContactSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ContactSerializer(self._contact(request, pk)).data)

    @extend_schema(request=ContactSerializer, responses=ContactSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        contact = self._contact(request, pk)
        ser = ContactSerializer(contact, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = {k: v for k, v in ser.validated_data.items() if k != "customer"}
        contact = services.contact_update(actor=_actor(request), contact=contact, **data)
        return Response(ContactSerializer(contact).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.contact_delete(actor=_actor(request), contact=self._contact(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityDetail(APIView):
    """GET / DELETE one activity of a visible customer (DELETE: its author, an owner or an admin)."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def _activity(self, request: Request, pk: int) -> Activity:
        return get_object_or_404(
            selectors.activities_visible(_actor(request)).select_related("customer", "author"), pk=pk
        )

    @extend_schema(responses=ActivitySerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ActivitySerializer(self._activity(request, pk)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.activity_delete(actor=_actor(request), activity=self._activity(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(get=extend_schema(parameters=[CUSTOMER_PARAMETER]))
class ActivityList(generics.ListCreateAPIView):
    serializer_class = ActivitySerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[Activity]:
        qs = (
            selectors.activities_visible(_actor(self.request))
            .select_related("author")
            .prefetch_related("comments__author")
        )
        return _of_customer(qs, self.request)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        customer = _visible_customer(request, data.pop("customer").pk)
        activity = services.activity_create(actor=_actor(request), customer=customer, **data)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


class CommentCreate(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class ActivityCommentCreate(APIView):
    """POST {body}: comment on an activity of a visible customer."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(request=CommentCreate, responses={201: CommentSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(CommentCreate, request.data)
        activity = get_object_or_404(selectors.activities_visible(_actor(request)), pk=pk)
        comment = services.activity_comment(actor=_actor(request), activity=activity, body=data["body"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class TaskQuery(serializers.Serializer):
    all = serializers.BooleanField(required=False, default=False)


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("all", bool, description="Include done tasks.")])
)
class TaskList(generics.ListCreateAPIView):
    """The caller's open tasks (?all=1 includes done ones)."""

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[Task]:
        qs = selectors.tasks_visible(_actor(self.request)).filter(owner=_actor(self.request))
        if not parse_query(TaskQuery, self.request).get("all"):
            qs = qs.filter(done_at__isnull=True)
        return qs.order_by("due_at", "id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        customer = data.pop("customer", None)
        if customer is not None:
            customer = _visible_customer(request, customer.pk)
        task = services.task_create(actor=_actor(request), customer=customer, **data)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskCompleteSerializer(serializers.Serializer):
    undo = serializers.BooleanField(required=False, help_text="Reopen the task instead.")


class TaskComplete(APIView):
    """POST: mark the task done; {undo: true} reopens it."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(request=TaskCompleteSerializer, responses=TaskSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = parse(TaskCompleteSerializer, request.data)
        task = get_object_or_404(Task, pk=pk)
        task = services.task_complete(actor=_actor(request), task=task, done=not data.get("undo", False))
        return Response(TaskSerializer(task).data)


@extend_schema_view(get=extend_schema(parameters=[QUERY_PARAMETER]))
class ProductList(generics.ListCreateAPIView):
    serializer_class = ProductSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_products")]

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(parse_query(SearchQuery, self.request).get("q", ""))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        product = services.product_save(actor=_actor(request), **ser.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetail(APIView):
    """GET / DELETE one product (DELETE: holders of core.manage_products, only while no document line uses
    it: 400 with the reason otherwise)."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_products")]

    @extend_schema(responses=ProductSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ProductSerializer(get_object_or_404(Product, pk=pk)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.product_delete(actor=_actor(request), product=get_object_or_404(Product, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HandoverSerializer(serializers.Serializer):
    from_user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    to_users = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True)
    mapping = serializers.DictField(child=serializers.IntegerField(), required=False)


class HandoverInputSerializer(HandoverSerializer):
    confirm = serializers.BooleanField(required=False, help_text="Do the handover (else only a preview).")


class HandoverResult(serializers.Serializer):
    confirmed = serializers.BooleanField()
    customers = serializers.DictField(
        child=serializers.IntegerField(), help_text="Customer id -> id of the new owner."
    )
    per_user = serializers.DictField(
        child=serializers.IntegerField(), help_text="New owner id -> number of customers."
    )
    contacts = serializers.IntegerField()
    documents = serializers.IntegerField()
    open_tasks = serializers.IntegerField()
    shares = serializers.IntegerField()


class ConfirmQuery(serializers.Serializer):
    confirm = serializers.BooleanField(required=False, default=False)


class Handover(APIView):
    """POST {from_user, to_users, mapping?}: a preview; with ?confirm=1 (or "confirm": true) the handover."""

    permission_classes = [IsAuthenticated, HasPerm("core.handover")]

    @extend_schema(
        request=HandoverInputSerializer,
        responses=HandoverResult,
        parameters=[OpenApiParameter("confirm", bool, description="Do the handover (else only a preview).")],
    )
    def post(self, request: Request) -> Response:
        data = parse(HandoverInputSerializer, request.data)
        try:
            mapping = {int(k): v for k, v in data.get("mapping", {}).items()}
        except ValueError:
            raise ServiceError(
                _("The mapping names customers or colleagues outside this handover."), field="mapping"
            ) from None
        confirm = bool(parse_query(ConfirmQuery, request).get("confirm") or data.get("confirm"))
        fn = services.customer_handover if confirm else services.customer_handover_preview
        plan = fn(
            actor=_actor(request),
            from_user=data["from_user"],
            to_users=data["to_users"],
            mapping=mapping or None,
        )
        return Response(
            {
                "confirmed": confirm,
                "customers": {str(k): v for k, v in plan.assignments.items()},
                "per_user": {str(k): v for k, v in plan.per_user.items()},
                "contacts": plan.contacts,
                "documents": plan.documents,
                "open_tasks": plan.open_tasks,
                "shares": plan.shares,
            }
        )


@extend_schema_view(get=extend_schema(parameters=[QUERY_PARAMETER]))
class PoolList(generics.ListAPIView):
    serializer_class = CustomerSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[Customer]:
        return selectors.pool_list(_actor(self.request), parse_query(SearchQuery, self.request).get("q", ""))


class PoolClaim(APIView):
    """POST: take a customer from the pool (within the daily claim limit)."""

    permission_classes = [IsAuthenticated, HasPerm("core.claim_pool")]

    @extend_schema(request=None, responses=CustomerSerializer)
    def post(self, request: Request, pk: int) -> Response:
        customer = get_object_or_404(Customer, pk=pk, in_pool=True)
        customer = services.pool_claim(actor=_actor(request), customer=customer)
        return Response(CustomerSerializer(customer).data)


class DocumentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "customer",
            "activity",
            "name",
            "size",
            "content_type",
            "uploaded_by",
            "created_at",
            "download_url",
        ]

    def get_download_url(self, obj: Document) -> str:
        return reverse("core:document_download", kwargs={"pk": obj.pk})


class DocumentUpload(serializers.Serializer):
    customer = serializers.IntegerField()
    file = serializers.FileField()


@extend_schema_view(
    get=extend_schema(parameters=[CUSTOMER_PARAMETER]),
    post=extend_schema(request=DocumentUpload, responses={201: DocumentSerializer}),
)
class DocumentList(generics.ListCreateAPIView):
    """GET ?customer=<id>: files of visible customers. POST multipart {customer, file}: attach one."""

    serializer_class = DocumentSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Document]:
        qs = selectors.documents_visible(_actor(self.request))
        return _of_customer(qs, self.request)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = parse(DocumentUpload, request.data)
        customer = _visible_customer(request, data["customer"])
        doc = services.document_upload(actor=_actor(request), customer=customer, upload=data["file"])
        return Response(DocumentSerializer(doc).data, status=status.HTTP_201_CREATED)


class ModuleSearchResult(serializers.Serializer):
    module = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.CharField()


class SearchResult(serializers.Serializer):
    customers = CustomerBrief(many=True)
    contacts = ContactSerializer(many=True)
    products = ProductSerializer(many=True)
    modules = ModuleSearchResult(many=True, help_text="What the enabled modules' search hooks found.")


class Search(APIView):
    """GET ?q=: visible customers, their contacts and products (name, phone, pinyin initials)."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_products")]

    @extend_schema(parameters=[QUERY_PARAMETER], responses=SearchResult)
    def get(self, request: Request) -> Response:
        found = selectors.search(_actor(request), parse_query(SearchQuery, request).get("q", ""))
        return Response(
            {
                "customers": CustomerBrief(found["customers"], many=True).data,
                "contacts": ContactSerializer(found["contacts"], many=True).data,
                "products": ProductSerializer(found["products"], many=True).data,
                "modules": ModuleSearchResult(found["modules"], many=True).data,
            }
        )


class CustomerShareSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)
    can_edit = serializers.BooleanField(required=False, default=False)


class UnshareSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)


class ShareResult(serializers.Serializer):
    customer = serializers.IntegerField()
    user = serializers.IntegerField()


class CustomerShareView(APIView):
    """POST {user, can_edit}: share; DELETE {user}: stop sharing."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(request=CustomerShareSerializer, responses={201: ShareResult})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(CustomerShareSerializer, request.data)
        customer = _visible_customer(request, pk)
        user = get_object_or_404(User, pk=data["user"])
        services.customer_share(
            actor=_actor(request), customer=customer, user=user, can_edit=data["can_edit"]
        )
        return Response({"customer": customer.pk, "user": user.pk}, status=status.HTTP_201_CREATED)

    # OpenAPI has no request body on DELETE: document the query parameter (a body {user} works too).
    @extend_schema(
        parameters=[OpenApiParameter("user", int, description="The colleague to stop sharing with.")],
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        # The colleague as a query parameter (OpenAPI) or in a body, both parsed by the same serializer.
        body = request.data if hasattr(request.data, "keys") and request.data else None
        data = parse(UnshareSerializer, body) if body is not None else parse_query(UnshareSerializer, request)
        customer = _visible_customer(request, pk)
        user = get_object_or_404(User, pk=data["user"])
        services.customer_unshare(actor=_actor(request), customer=customer, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerMergeSerializer(serializers.Serializer):
    # The type: ignores here and in CustomFieldSerializer: DRF's metaclass takes declared fields off the
    # class, but the stubs see them override Field attributes of the same name (source, label, required).
    source = serializers.IntegerField(  # type: ignore[assignment]
        help_text="The customer merged into this one (then deleted)."
    )


class CustomerMerge(APIView):
    """POST {source}: merge customer `source` into this one (contacts, activities, tasks move)."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(request=CustomerMergeSerializer, responses=CustomerSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = parse(CustomerMergeSerializer, request.data)
        target = _visible_customer(request, pk)
        source = _visible_customer(request, data["source"])
        merged = services.customer_merge(actor=_actor(request), target=target, source=source)
        return Response(CustomerSerializer(merged).data)


class HistoryEntry(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    detail = serializers.JSONField()


class CustomerHistory(APIView):
    """The audit trail of a customer (admins)."""

    permission_classes = [IsAuthenticated, HasPerm("workspace.view_audit")]

    @extend_schema(responses=HistoryEntry(many=True))
    def get(self, request: Request, pk: int) -> Response:
        customer = _visible_customer(request, pk)
        return Response(
            [
                {"at": e.created_at, "actor": e.actor_label, "action": e.action, "detail": e.detail}
                for e in selectors.customer_history(_actor(request), customer, limit=200)
            ]
        )


class WeeklyReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeeklyReport
        fields = [
            "id",
            "author",
            "week_start",
            "summary",
            "plan",
            "suggestions",
            "stats",
            "status",
            "submitted_at",
            "manager_comment",
        ]
        read_only_fields = ["author", "week_start", "stats", "status", "submitted_at", "manager_comment"]


class WeeklyReportCreate(serializers.Serializer):
    week_start = serializers.DateField(
        required=False, allow_null=True, help_text="Default: the current week."
    )


@extend_schema_view(post=extend_schema(request=WeeklyReportCreate, responses={201: WeeklyReportSerializer}))
class WeeklyReportList(generics.ListCreateAPIView):
    """GET: mine and my team's submitted reports. POST {week_start?}: prepare (or return) my report."""

    serializer_class = WeeklyReportSerializer
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    def get_queryset(self) -> QuerySet[WeeklyReport]:
        return selectors.weekly_reports_visible(_actor(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = parse(WeeklyReportCreate, request.data)
        report = services.weekly_report_generate(actor=_actor(request), week_start=data.get("week_start"))
        return Response(WeeklyReportSerializer(report).data, status=status.HTTP_201_CREATED)


class WeeklyReportUpdate(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    plan = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    suggestions = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    submit = serializers.BooleanField(required=False, help_text="Submit the draft after saving it.")
    manager_comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10000,
        help_text="A manager's reply (the other fields are then ignored).",
    )


class WeeklyReportDetail(APIView):
    """PATCH {summary, plan, suggestions, submit?}: edit (and submit) my draft; {manager_comment}: reply."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(responses=WeeklyReportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        report = get_object_or_404(selectors.weekly_reports_visible(_actor(request)), pk=pk)
        return Response(WeeklyReportSerializer(report).data)

    @extend_schema(request=WeeklyReportUpdate, responses=WeeklyReportSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        actor = _actor(request)
        data = parse(WeeklyReportUpdate, request.data)
        report = get_object_or_404(selectors.weekly_reports_visible(actor), pk=pk)
        if "manager_comment" in data:
            services.weekly_report_comment(actor=actor, report=report, comment=data["manager_comment"])
        else:
            services.weekly_report_update(
                actor=actor,
                report=report,
                summary=data.get("summary", report.summary),
                plan=data.get("plan", report.plan),
                suggestions=data.get("suggestions", report.suggestions),
            )
            if data.get("submit"):
                services.weekly_report_submit(actor=actor, report=report)
        return Response(WeeklyReportSerializer(report).data)


class CustomFieldSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=50)
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]
    field_type = serializers.ChoiceField(choices=CustomFieldDefinition.FieldType.choices)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=200
    )
    required = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]


class CustomFieldList(APIView):
    """GET: the tenant's custom customer fields. POST: define one (admins)."""

    # Defining a field is a settings change: checked before the body is read (a rep gets 403, not 400).
    permission_classes = [IsAuthenticated, HasPerm("core.view_customers", write="core.manage_settings")]

    @extend_schema(responses=CustomFieldSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "key": d.key,
                    "label": d.label,
                    "field_type": d.field_type,
                    "choices": d.choices,
                    "required": d.required,
                }
                for d in selectors.custom_fields()
            ]
        )

    @extend_schema(request=CustomFieldSerializer, responses={201: CustomFieldSerializer})
    def post(self, request: Request) -> Response:
        data = parse(CustomFieldSerializer, request.data)
        d = services.custom_field_define(
            actor=_actor(request),
            key=data["key"],
            label=data["label"],
            field_type=data["field_type"],
            choices=data.get("choices") or [],
            required=data["required"],
        )
        return Response(
            {
                "key": d.key,
                "label": d.label,
                "field_type": d.field_type,
                "choices": d.choices,
                "required": d.required,
            },
            status=status.HTTP_201_CREATED,
        )


class ImportJobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "filename",
            "encoding",
            "headers",
            "mapping",
            "key",
            "status",
            "total_rows",
            "created_count",
            "updated_count",
            "error_count",
            "errors",
            "warning_count",
            "warnings",
            "progress",
            "created_at",
            "finished_at",
        ]

    def get_progress(self, obj: ImportJob) -> dict[str, int]:
        return imports.import_progress(obj)


class ImportUpload(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[], help_text="What to import: the core's kinds and those enabled modules add (members)."
    )
    file = serializers.FileField(help_text="A CSV or XLSX file with a header row.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read when used, not at import: modules register their kinds during start-up.
        kind: Any = self.fields["kind"]
        kind.choices = [k.name for k in import_kinds.import_kinds.all()]


class ImportPreview(ImportJobSerializer):
    preview = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()), help_text="The first non-empty rows."
    )

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "preview"]


class ImportStart(serializers.Serializer):
    mapping = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=50),
        required=False,
        help_text="Column index -> field (default: the guess).",
    )
    key = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="The field used to find existing rows."
    )


class ImportCreate(APIView):
    """POST multipart {kind: customers, contacts, products or a kind a module adds (members), file}: store
    it, guess the mapping, return a preview. The kind must be offered: its module on, its permission held."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ImportUpload, responses={201: ImportPreview})
    def post(self, request: Request) -> Response:
        data = parse(ImportUpload, request.data)
        upload = data["file"]
        job = imports.import_upload(
            actor=_actor(request),
            kind=data["kind"],
            filename=upload.name or "",
            data=upload.read(),
        )
        data = ImportJobSerializer(job).data
        data["preview"] = imports.import_preview(job)
        return Response(data, status=status.HTTP_201_CREATED)


class ImportDetail(APIView):
    """GET: status, progress and row errors. POST {mapping: {column index: field}, key}: run the import."""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(ImportJob, pk=pk, created_by=_actor(request))
        return Response(ImportJobSerializer(job).data)

    # Its own operation id: the default ("core_imports_create") is the upload's.
    @extend_schema(
        request=ImportStart, responses={202: ImportJobSerializer}, operation_id="core_imports_start"
    )
    def post(self, request: Request, pk: int) -> Response:
        data = parse(ImportStart, request.data)
        job = get_object_or_404(ImportJob, pk=pk, created_by=_actor(request))
        mapping = data.get("mapping") or job.mapping
        if not isinstance(mapping, dict):
            raise ServiceError(_("Map each column to a different field."), field="mapping")
        imports.import_start(
            actor=_actor(request),
            job=job,
            mapping={str(k): str(v) for k, v in mapping.items()},
            key=data.get("key") or job.key,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class CustomerExport(APIView):
    """GET ?type=csv|xlsx plus the list filters: the customers the caller sees. (Not `format`: DRF keeps
    that parameter for choosing a renderer.)"""

    permission_classes = [IsAuthenticated, HasPerm("core.view_customers")]

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=["csv", "xlsx"], default="csv", description="File format."),
            *CUSTOMER_FILTERS,
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, exports.XLSX): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        filters, p = _customer_filters(request, CustomerExportQuery)
        headers, rows = exports.customer_rows(selectors.customer_list(_actor(request), filters))
        return exports.respond("customers", p["type"], headers, rows)


class OnboardingStepSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="module.step, e.g. core.customers")
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.CharField(help_text="The page where the step is done.")
    done = serializers.BooleanField()


class OnboardingSerializer(serializers.Serializer):
    steps = OnboardingStepSerializer(many=True)
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    complete = serializers.BooleanField()
    percent = serializers.IntegerField()
    dismissed = serializers.BooleanField(help_text="Hidden from the dashboard.")


class OnboardingUpdateSerializer(serializers.Serializer):
    dismissed = serializers.BooleanField()


class Onboarding(APIView):
    """GET: the getting-started checklist of the workspace's modules; PATCH {dismissed}: hide it from the
    dashboard or show it there again. Owners and admins (core.manage_settings)."""

    permission_classes = [IsAuthenticated, HasPerm(onboarding.PERM)]

    def _data(self, request: Request) -> dict[str, Any]:
        data = onboarding.checklist(request.tenant, _actor(request))  # type: ignore[attr-defined]
        return dict(OnboardingSerializer(data).data)

    @extend_schema(responses=OnboardingSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._data(request))

    @extend_schema(request=OnboardingUpdateSerializer, responses=OnboardingSerializer)
    def patch(self, request: Request) -> Response:
        data = parse(OnboardingUpdateSerializer, request.data)
        onboarding.onboarding_set_dismissed(actor=_actor(request), dismissed=data["dismissed"])
        return Response(self._data(request))


class SampleDataSerializer(serializers.Serializer):
    loaded = serializers.BooleanField()
    rows = serializers.IntegerField()
    loaded_at = serializers.DateTimeField(allow_null=True)


class SampleRemovedSerializer(serializers.Serializer):
    removed = serializers.IntegerField()
    kept = serializers.IntegerField()


class SampleData(APIView):
    """Explore with sample data. GET: whether they are loaded; POST: load the enabled modules' sample data
    (400 `conflict` while loaded); DELETE: remove them, keeping those your own records refer to (400
    `conflict` when none are loaded). Owners and admins (core.manage_settings)."""

    permission_classes = [IsAuthenticated, HasPerm(sample.PERM)]

    @extend_schema(responses=SampleDataSerializer)
    def get(self, request: Request) -> Response:
        return Response(SampleDataSerializer(sample.summary()).data)

    @extend_schema(request=None, responses={201: SampleDataSerializer})
    def post(self, request: Request) -> Response:
        loaded = sample.sample_load(actor=_actor(request), tenant=request.tenant)  # type: ignore[attr-defined]
        return Response(SampleDataSerializer(loaded).data, status=201)

    @extend_schema(request=None, responses={200: SampleRemovedSerializer})
    def delete(self, request: Request) -> Response:
        return Response(SampleRemovedSerializer(sample.sample_remove(actor=_actor(request))).data)

"""CRM core data (tenant schema): customers, contacts, sharing, custom fields, activities, tasks, products.

Ownership changes and customer edits are audited through crm.tenants.accounts.services.audit (AuditEntry).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.kernel.vat import DEFAULT_VAT_RATE, VAT_RATE_CHOICES
from crm.platform.models import HeartbeatJob, TimeStampedModel


class CoreSettings(TimeStampedModel):
    """Per-tenant settings of the core (one row): public-pool rules, the getting-started list."""

    pool_days = models.PositiveIntegerField(
        _("days without follow-up before a customer returns to the pool"), default=30
    )
    pool_warning_days = models.PositiveIntegerField(_("days of warning before the return"), default=3)
    pool_claims_per_day = models.PositiveIntegerField(_("pool claims per rep per day"), default=10)
    # The getting-started checklist is hidden from the dashboard (Settings → Getting started shows it).
    onboarding_dismissed = models.BooleanField(_("getting-started list hidden"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("core settings")

    def __str__(self) -> str:
        return f"pool {self.pool_days}d"


class Customer(TimeStampedModel):
    """A company or a person the tenant sells to. Belongs to the company; `owner` is the rep in charge."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        PERSON = "person", _("Individual")

    class Source(models.TextChoices):
        REFERRAL = "referral", _("Referral")
        EXHIBITION = "exhibition", _("Exhibition")
        WEB = "web", _("Website")
        COLD_CALL = "cold_call", _("Cold call")
        OTHER = "other", _("Other")

    class Stage(models.TextChoices):
        LEAD = "lead", _("Lead")
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")
        LOST = "lost", _("Lost")

    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    name = models.CharField(_("name"), max_length=200)
    # Lower-case, without spaces, punctuation and legal-form suffixes: "上海某某有限公司" == "上海某某".
    name_normalized = models.CharField(max_length=200, db_index=True, editable=False)
    # Pinyin initials of the name ("shmm") so the search box finds Chinese names by initials.
    name_initials = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    phone = models.CharField(_("phone"), max_length=30, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    tags = ArrayField(models.CharField(max_length=30), default=list, blank=True, verbose_name=_("tags"))
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.OTHER)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.LEAD)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        verbose_name=_("owner"),
    )
    in_pool = models.BooleanField(_("in public pool"), default=False, db_index=True)
    pool_warned_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last follow-up"), null=True, blank=True, db_index=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [GinIndex(fields=["tags"], name="core_customer_tags_gin")]

    def __str__(self) -> str:
        return self.name


class Contact(TimeStampedModel):
    """A person at a customer (several per customer), with title and role in the purchase."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    name_initials = models.CharField(max_length=100, blank=True, editable=False)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=100, blank=True, help_text=_("e.g. decision maker, user"))
    phone = models.CharField(_("phone"), max_length=30, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        ordering = ["-is_primary", "name", "id"]
        verbose_name = _("contact")

    def __str__(self) -> str:
        return self.name


class CustomerShare(TimeStampedModel):
    """A customer shared with a colleague (read, or read and write) without changing its owner."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_customers"
    )
    can_edit = models.BooleanField(_("may edit"), default=False)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["customer", "user"], name="core_share_unique")]

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.user_id}"


class CustomFieldDefinition(TimeStampedModel):
    """An extra customer field defined by a tenant admin; values live in Customer.custom_fields[key]."""

    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=50, unique=True)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class Activity(TimeStampedModel):
    """A follow-up with a customer: visit (客户拜访), call, meeting or note, with result and next step."""

    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        NOTE = "note", _("Note")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="activities"
    )
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.VISIT)
    purpose = models.CharField(_("purpose"), max_length=255, blank=True)
    result = models.TextField(_("result"), blank=True)
    next_step = models.CharField(_("next step"), max_length=255, blank=True)
    next_step_at = models.DateTimeField(_("next step due"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.customer_id}"


class ActivityComment(TimeStampedModel):
    """A manager's reply to a rep's activity (批复): guidance, not control."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("comment"))

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:40]


class Task(TimeStampedModel):
    """Something a named person must do by a date (often a visit's next step)."""

    title = models.CharField(_("title"), max_length=255)
    due_at = models.DateTimeField(_("due"), db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    activity = models.ForeignKey(Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["done_at", "due_at", "id"]

    def __str__(self) -> str:
        return self.title


class Product(TimeStampedModel):
    """A product or service in the catalogue; code + name + specification is unique (排重)."""

    code = models.CharField(_("code"), max_length=50, blank=True)
    name = models.CharField(_("name"), max_length=200)
    name_initials = models.CharField(max_length=200, blank=True, editable=False)
    specification = models.CharField(_("specification"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True, default="")
    price = models.DecimalField(_("price (tax incl.)"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=2, null=True, blank=True)
    # The default VAT rate of its document lines (a line may override it).
    vat_rate = models.DecimalField(
        _("VAT rate"), max_digits=4, decimal_places=2, default=DEFAULT_VAT_RATE, choices=VAT_RATE_CHOICES
    )
    category = models.CharField(_("category"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category", "code", "name", "id"]
        verbose_name = _("product")
        constraints = [
            models.UniqueConstraint(fields=["code", "name", "specification"], name="core_product_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.specification}".strip()


class WeeklyReport(TimeStampedModel):
    """A rep's weekly report (销售周报): pre-filled from the week's activities, edited, then submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_reports"
    )
    week_start = models.DateField(_("week of"))
    summary = models.TextField(_("what I did"), blank=True)
    plan = models.TextField(_("plan for next week"), blank=True)
    suggestions = models.TextField(_("problems and suggestions"), blank=True)
    stats = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    manager_comment = models.TextField(_("manager's comment"), blank=True)

    class Meta:
        ordering = ["-week_start", "author_id"]
        constraints = [models.UniqueConstraint(fields=["author", "week_start"], name="core_weekly_unique")]

    def __str__(self) -> str:
        return f"{self.author_id} {self.week_start}"


class ImportJob(HeartbeatJob, TimeStampedModel):
    """One spreadsheet import (customers or products): mapping, key, progress, outcome, row errors."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed: nothing imported")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)  # "customers" or "products"
    filename = models.CharField(max_length=200)
    stored_path = models.CharField(max_length=500, blank=True)  # under MEDIA_ROOT/<schema>/imports/
    encoding = models.CharField(max_length=20, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # column index -> field
    key = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # Rows imported as new that look like existing customers (same phone, email or name): offered for merge.
    warnings = models.JSONField(default=list, blank=True)
    warning_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # 1-based row of the header in the file (title and blank rows above it are skipped).
    header_row = models.PositiveIntegerField(default=1)
    # False (default): valid rows are imported and the others skipped (a file of them to download);
    # True: any bad row fails the whole import.
    all_or_nothing = models.BooleanField(default=False)
    # field -> {cell value as written -> known value ("" = leave empty)}, as confirmed on the preview.
    value_map = models.JSONField(default=dict, blank=True)
    # What the preview found (rows to create/update/merge/skip, unknown choice values), before the run.
    analysis = models.JSONField(default=dict, blank=True)
    skipped_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0)
    # Rows kept with a value dropped (an invalid phone or email): [{"row", "field", "message"}].
    row_warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.filename}"


class ImportValueMap(TimeStampedModel):
    """How this workspace maps a choice cell it did not know (source "老客户介绍" -> referral), per
    import kind and field: confirmed once on a preview, proposed again on the next import."""

    kind = models.CharField(max_length=20)
    field = models.CharField(max_length=40)
    value = models.CharField(max_length=200)
    target = models.CharField(max_length=200, blank=True)  # "" = leave the field empty

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "field", "value"], name="core_importvaluemap_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}.{self.field}: {self.value} -> {self.target}"


def _document_path(instance: Document, filename: str) -> str:
    # Per tenant and per customer; a random name so URLs cannot be guessed and names cannot collide.
    from pathlib import PurePath
    from uuid import uuid4

    from django.db import connection

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"{connection.schema_name}/documents/{instance.customer_id}/{uuid4().hex}{suffix}"  # type: ignore[attr-defined]


class Document(TimeStampedModel):
    """A file attached to a customer (optionally to one of its activities): contract, drawing, photo.
    Stored under MEDIA_ROOT/<schema>/documents/ and served only through a view that checks visibility."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    file = models.FileField(upload_to=_document_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("document")

    def __str__(self) -> str:
        return self.name


class SampleSet(models.Model):
    """The rows "Explore with sample data" added to one table of this workspace (crm.modules.core.sample):
    removed in one step later, except those that records entered since depend on."""

    table = models.CharField(max_length=63, unique=True)
    ids = ArrayField(models.BigIntegerField(), default=list)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["table"]

    def __str__(self) -> str:
        return f"{self.table}: {len(self.ids)}"

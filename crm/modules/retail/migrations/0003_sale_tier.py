"""Sales remember the member's tier at the time of sale (results by tier group by it).

Backfill: sales recorded before this migration get the member's tier AT MIGRATION TIME, because the tier
a member had when buying was not stored. History before this change is therefore grouped by the tier the
member held when the migration ran (upgrades recorded in TierChange could refine it, but a downgrade at
renewal and voided sales make that reconstruction unreliable, so it is not attempted). Sales recorded
from now on keep the tier they were made at.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Sale = apps.get_model("retail", "Sale")
    Member = apps.get_model("retail", "Member")
    # One UPDATE ... SET tier_id = (SELECT tier_id FROM member) for the whole table.
    Sale.objects.filter(tier__isnull=True).update(
        tier=Subquery(Member.objects.filter(pk=OuterRef("member_id")).values("tier_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("retail", "0002_renewal"),
    ]

    operations = [
        migrations.AddField(
            model_name="sale",
            name="tier",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="retail.tier",
                verbose_name="tier",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]

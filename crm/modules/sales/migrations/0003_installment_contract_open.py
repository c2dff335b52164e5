"""Installment.contract_open: the contract's open state on each installment, filled from the contracts."""

from django.db import migrations, models

BACKFILL = """
UPDATE sales_installment i SET contract_open = true
FROM sales_contract c
WHERE c.id = i.contract_id AND c.state IN ('confirmed', 'completed')
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0002_pipeline_activity"),
    ]

    operations = [
        migrations.AddField(
            model_name="installment",
            name="contract_open",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]

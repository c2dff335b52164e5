"""Opportunity.reached_position: the furthest stage (other than lost) each opportunity reached, from its log."""

from django.db import migrations, models

BACKFILL = """
UPDATE sales_opportunity o SET reached_position = m.position
FROM (
    SELECT l.opportunity_id, max(s.position) AS position
    FROM sales_opportunitystagelog l JOIN sales_stage s ON s.id = l.to_stage_id
    WHERE s.kind <> 'lost'
    GROUP BY l.opportunity_id
) m
WHERE m.opportunity_id = o.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0003_installment_contract_open"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="reached_position",
            field=models.SmallIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]

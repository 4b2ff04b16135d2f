"""The outbox's models moved to the events core (``support.events``): state only, the tables stay.

``events.0001_initial`` takes them over under their table names; the webhook delivery's link to
its event now points at ``events.OutboxEvent`` (the same table, the same column).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0001_initial'),
        ('push', '0009_staff_field_names_translated'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='webhookdelivery',
                    name='event',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name='+', to='events.outboxevent',
                                            verbose_name='event'),
                ),
                migrations.DeleteModel(name='OutboxDelivery'),
                migrations.DeleteModel(name='OutboxEvent'),
            ],
        ),
    ]

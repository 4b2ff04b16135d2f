"""Outbox events name their handlers; the dispatcher writes their deliveries (``fanned_out``).

Events written before this migration already have their deliveries: they are marked fanned out.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('push', '0005_mqtt_credential_api_token'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboxevent',
            name='fanned_out',
            field=models.BooleanField(default=True, editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='outboxevent',
            name='fanned_out',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='handlers',
            field=models.JSONField(default=list, editable=False),
        ),
        migrations.AddIndex(
            model_name='outboxevent',
            index=models.Index(condition=models.Q(('fanned_out', False)), fields=['id'], name='outbox_fanout'),
        ),
    ]

"""Notification receipts move here from ``push`` without touching the database.

The table was created by ``push``'s migrations and keeps its name (``db_table``); this migration
tells Django's state that ``events`` owns it and hands its content type over;
``push.0011_notification_receipt_moved_to_events`` removes it from ``push``'s state.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def _move_content_type(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=target, model="notificationreceipt").exists():
        ContentType.objects.using(db).filter(app_label=source, model="notificationreceipt").update(app_label=target)


def adopt_content_type(apps, schema_editor):
    _move_content_type(apps, schema_editor, "push", "events")


def return_content_type(apps, schema_editor):
    _move_content_type(apps, schema_editor, "events", "push")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('events', '0002_staff_field_names_translated'),
        ('push', '0010_outbox_moved_to_events'),
        ('support', '0011_staff_field_names_translated'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(adopt_content_type, return_content_type)],
            state_operations=[
                migrations.CreateModel(
                    name='NotificationReceipt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event_public_id', models.CharField(max_length=40)),
                        ('kind', models.CharField(choices=[('agent_alert', 'Agent alert'), ('offline_conversation', 'Offline conversation'), ('billing_email', 'Billing email to an owner')], max_length=24)),
                        ('channels', models.CharField(blank=True, max_length=20)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('membership', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='support.membership')),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, to='support.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'db_table': 'push_notificationreceipt',
                        'constraints': [models.UniqueConstraint(fields=('event_public_id', 'kind', 'membership'), name='notifreceipt_unique')],
                    },
                ),
            ],
        ),
    ]

"""Notification receipts moved to the events core (``support.events``): state only, the table stays
(``events.0003_notification_receipt_moved_from_push`` takes it over under its name)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0003_notification_receipt_moved_from_push'),
        ('push', '0010_outbox_moved_to_events'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='NotificationReceipt')],
        ),
    ]

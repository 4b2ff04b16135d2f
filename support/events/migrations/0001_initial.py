"""The outbox's tables, moved here from ``push`` without touching the database.

The tables were created by ``push``'s migrations (0001, 0002, 0006) and keep their names
(``db_table``): this migration only tells Django's state that ``events`` owns them from now on,
and hands their content types (and with them permissions and admin log entries) over to
``events``. ``push.0010_outbox_moved_to_events`` removes them from ``push``'s state.
"""

import django.db.models.deletion
import django.utils.timezone
import support.fields
from django.db import migrations, models


MODELS = ("outboxevent", "outboxdelivery")


def _move_content_types(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label=target, model=model).exists():
            ContentType.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def adopt_content_types(apps, schema_editor):
    _move_content_types(apps, schema_editor, "push", "events")


def return_content_types(apps, schema_editor):
    _move_content_types(apps, schema_editor, "events", "push")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('push', '0009_staff_field_names_translated'),
        ('support', '0011_staff_field_names_translated'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(adopt_content_types, return_content_types)],
            state_operations=[
                migrations.CreateModel(
                    name='OutboxEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('public_id', support.fields.PublicIdField(editable=False, max_length=40, prefix='evt', unique=True)),
                        ('type', models.CharField(max_length=60)),
                        ('version', models.PositiveSmallIntegerField(default=1)),
                        ('payload', models.JSONField(default=dict)),
                        ('ordering_key', models.CharField(blank=True, max_length=60)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('handlers', models.JSONField(default=list, editable=False)),
                        ('fanned_out', models.BooleanField(default=False, editable=False)),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, to='support.tenant')),
                    ],
                    options={
                        'db_table': 'push_outboxevent',
                    },
                ),
                migrations.CreateModel(
                    name='OutboxDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('handler', models.CharField(editable=False, max_length=100)),
                        ('ordering_key', models.CharField(blank=True, editable=False, max_length=60)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done'), ('dead', 'Dead')], default='pending', max_length=7)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('claim_token', models.CharField(blank=True, max_length=32)),
                        ('last_error', models.TextField(blank=True)),
                        ('handled_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, to='support.tenant')),
                        ('event', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='events.outboxevent')),
                    ],
                    options={
                        'verbose_name_plural': 'outbox deliveries',
                        'db_table': 'push_outboxdelivery',
                    },
                ),
                migrations.AddIndex(
                    model_name='outboxevent',
                    index=models.Index(fields=['created_at'], name='outbox_created'),
                ),
                migrations.AddIndex(
                    model_name='outboxevent',
                    index=models.Index(condition=models.Q(('fanned_out', False)), fields=['id'], name='outbox_fanout'),
                ),
                migrations.AddIndex(
                    model_name='outboxdelivery',
                    index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at', 'id'], name='outbox_due'),
                ),
                migrations.AddIndex(
                    model_name='outboxdelivery',
                    index=models.Index(condition=models.Q(('status', 'running')), fields=['lease_expires_at'], name='outbox_leased'),
                ),
                migrations.AddIndex(
                    model_name='outboxdelivery',
                    index=models.Index(condition=models.Q(('status__in', ['pending', 'running'])), fields=['handler', 'ordering_key', 'event'], name='outbox_inflight_key'),
                ),
                migrations.AddIndex(
                    model_name='outboxdelivery',
                    index=models.Index(condition=models.Q(('status', 'dead')), fields=['handler', 'created_at'], name='outbox_dead'),
                ),
                migrations.AddConstraint(
                    model_name='outboxdelivery',
                    constraint=models.UniqueConstraint(fields=('event', 'handler'), name='outbox_delivery_once'),
                ),
            ],
        ),
    ]

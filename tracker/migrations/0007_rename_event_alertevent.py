"""Event becomes AlertEvent (the API's feed has events of its own, FeedEvent): the
model's name only; its table, indexes and constraints keep their names. And the
admin says "digests sent", not "digest sents"."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0006_outbox_events_deliveries_webhooks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameModel("Event", "AlertEvent"),
                migrations.AlterModelTable("AlertEvent", "tracker_event"),
            ],
        ),
        migrations.AlterModelOptions(
            name="digestsent",
            options={"verbose_name": "digest sent", "verbose_name_plural": "digests sent"},
        ),
    ]

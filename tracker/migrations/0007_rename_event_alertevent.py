"""Event becomes AlertEvent (the API's feed has events of its own, FeedEvent). Its
table is named first, so that the rename keeps it: table, indexes and constraints keep
their names, and the content type and permissions follow the rename. And the admin
says "digests sent", not "digest sents"."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0006_outbox_events_deliveries_webhooks"),
    ]

    operations = [
        migrations.AlterModelTable("Event", "tracker_event"),
        migrations.RenameModel("Event", "AlertEvent"),
        migrations.AlterModelOptions(
            name="digestsent",
            options={"verbose_name": "digest sent", "verbose_name_plural": "digests sent"},
        ),
    ]

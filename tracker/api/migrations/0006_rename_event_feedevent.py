"""The feed's model is FeedEvent (the alert pipeline has its own events); its table,
its index and the triggers that fill it stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tracker_api", "0005_feed_horizon")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameModel("Event", "FeedEvent"),
                migrations.AlterModelTable("FeedEvent", "tracker_api_event"),
            ],
            database_operations=[],
        )
    ]

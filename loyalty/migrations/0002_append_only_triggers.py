"""The database refuses to change or delete points ledger rows and tier changes, whatever the code path (raw SQL
included). See :mod:`commerce.core.db_triggers`."""

from django.db import migrations

from commerce.core.db_triggers import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [append_only_triggers("loyalty_pointsentry", "loyalty_tierchange")]

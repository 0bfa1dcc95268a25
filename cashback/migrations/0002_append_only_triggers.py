"""The database refuses to change or delete rows of the append-only cashback tables, whatever the code path (raw
SQL included): the wallet ledger, cashback entry history, risk assessments and raw conversion reports. See
:mod:`commerce.core.db_triggers`."""

from django.db import migrations

from commerce.core.db_triggers import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("cashback", "0001_initial")]

    operations = [
        append_only_triggers(
            "cashback_walletentry",
            "cashback_cashbackentryevent",
            "cashback_riskassessment",
            "cashback_conversionreport",
        )
    ]

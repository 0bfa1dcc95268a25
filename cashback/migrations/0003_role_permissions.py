"""Give the staff roles their permissions on the cashback models (see accounts.roles and cashback/admin.py).

* **admin** and **finance**: see every cashback model; approve and reject cashback in the review queue
  (``cashback.review_cashbackentry``); approve, reject, record payouts of and fail withdrawals
  (``cashback.review_withdrawal``); adjust a wallet (``cashback.change_wallet``: the "Staff adjustment" form,
  nothing of the wallet itself is editable); edit merchants' cashback terms (cap, risk flag) and rotate their
  conversion secrets (``cashback.add_merchantcashback``/``change_merchantcashback``).
* **support**: sees cashback entries (with their history and risk assessments), wallets (with their ledger) and
  withdrawals, to answer shoppers; acts on nothing, and sees no conversions or merchants' terms.
* **merchant_staff**: sees conversions and their raw reports, only their own merchants' (scoped in the admin's
  ``get_queryset``), and nothing else of cashback.
* **catalog_manager**: nothing here.

Nobody adds, changes or deletes entries, ledger rows, withdrawals or conversions through a form: the services
write them (the append-only tables have only a view permission).
"""

from django.db import migrations

from accounts.roles import ADMIN, FINANCE, MERCHANT_STAFF, SUPPORT, grant_role_permissions

SHOPPER_RECORDS = [
    "cashback.view_cashbackentry",
    "cashback.view_cashbackentryevent",
    "cashback.view_riskassessment",
    "cashback.view_wallet",
    "cashback.view_walletentry",
    "cashback.view_withdrawal",
]
MERCHANT_RECORDS = ["cashback.view_conversion", "cashback.view_conversionreport"]
FINANCE_DESK = [
    *SHOPPER_RECORDS,
    *MERCHANT_RECORDS,
    "cashback.view_merchantcashback",
    "cashback.add_merchantcashback",
    "cashback.change_merchantcashback",
    "cashback.change_wallet",
    "cashback.review_cashbackentry",
    "cashback.review_withdrawal",
]


def grant(apps, schema_editor):
    grant_role_permissions(
        apps,
        {ADMIN: FINANCE_DESK, FINANCE: FINANCE_DESK, SUPPORT: SHOPPER_RECORDS, MERCHANT_STAFF: MERCHANT_RECORDS},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cashback", "0002_append_only_triggers"),
        ("accounts", "0004_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

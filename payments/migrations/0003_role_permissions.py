"""Give the staff roles their permissions on the payments models (see accounts.roles and the README's table).

* **admin** and **finance**: see every payment, refund and webhook event; refund a payment
  (``payments.add_refund``: the admin's "Refund" action on payments, through ``refund_create``); reprocess a
  webhook event (``payments.change_webhookevent``: the "Reprocess" action; nothing of the event is editable).
* **support**: sees payments and refunds (to answer "where is my refund?"), never refunds, never webhooks.
* **merchant_staff** and **catalog_manager**: nothing here. Merchant staff follow an order's payment status on
  the order itself; the payments back office is the platform's finance desk.

Nobody may add, change or delete payments, refunds or webhook events through a form: the services write them.
Saved payment methods and provider customers are not in the admin (provider tokens of shoppers).
"""

from django.db import migrations

from accounts.roles import ADMIN, FINANCE, SUPPORT, grant_role_permissions

RECORDS = ["payments.view_payment", "payments.view_refund"]
FINANCE_DESK = [*RECORDS, "payments.add_refund", "payments.view_webhookevent", "payments.change_webhookevent"]


def grant(apps, schema_editor):
    grant_role_permissions(apps, {ADMIN: FINANCE_DESK, FINANCE: FINANCE_DESK, SUPPORT: RECORDS})


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_webhooks_next_attempt"),
        ("accounts", "0004_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

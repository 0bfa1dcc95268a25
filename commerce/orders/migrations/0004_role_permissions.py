"""Give the staff roles their permissions on the orders models (see accounts.roles and the README's table).

* **admin**: views every order record, acts on orders (``change_order``: fulfil, deliver, cancel), manages
  shipping and tax rates, sees the sales overview.
* **merchant_staff**: the same on their own merchants' orders (the admin scopes every list to them), and their
  merchants' shipping; never tax rates (a platform setting).
* **support**: sees every order, its lines, events and invoice, and may only mark a shipped order delivered
  (``deliver_order``): nothing that moves money or stock (no cancel, no fulfil), no sales figures.
* **finance**: sees every order, invoice and the sales overview, and manages the per-category tax rates.
* **catalog_manager**: manages merchants' shipping (beside the merchants themselves).

Nobody may add or delete orders, lines, adjustments, events or invoices in the admin: the services write them.
"""

from django.db import migrations

from accounts.roles import ADMIN, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT, grant_role_permissions

ORDER_RECORDS = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderadjustment",
    "orders.view_orderevent",
    "orders.view_invoice",
]
SHIPPING = [f"orders.{action}_merchantshipping" for action in ("view", "add", "change", "delete")]
TAX_RATES = [f"orders.{action}_categorytaxrate" for action in ("view", "add", "change", "delete")]


def grant(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            ADMIN: [
                *ORDER_RECORDS,
                "orders.change_order",
                "orders.deliver_order",
                "orders.view_salesoverview",
                *SHIPPING,
                *TAX_RATES,
            ],
            MERCHANT_STAFF: [
                *ORDER_RECORDS,
                "orders.change_order",
                "orders.deliver_order",
                "orders.view_salesoverview",
                "orders.view_merchantshipping",
                "orders.add_merchantshipping",
                "orders.change_merchantshipping",
            ],
            SUPPORT: [*ORDER_RECORDS, "orders.deliver_order"],
            FINANCE: [*ORDER_RECORDS, "orders.view_salesoverview", "orders.view_merchantshipping", *TAX_RATES],
            CATALOG_MANAGER: [*SHIPPING, "orders.view_categorytaxrate"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_admin_sales_overview"),
        ("accounts", "0004_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

"""Give the staff roles their permissions on the catalog models (see accounts.roles).

Merchant staff also get ``view_category``: the product form's category picker is an admin autocomplete,
which Django only serves to users who may view the related model.
"""

from django.db import migrations

from accounts.roles import ADMIN, CATALOG_MANAGER, MERCHANT_STAFF, SUPPORT, grant_role_permissions

MODELS = ("merchant", "merchantmembership", "category", "product", "productvariant", "productimage", "savedsearch")
ACTIONS = ("add", "change", "delete", "view")


def grant(apps, schema_editor):
    everything = [f"catalog.{action}_{model}" for model in MODELS for action in ACTIONS]
    grant_role_permissions(
        apps,
        {
            ADMIN: everything,
            CATALOG_MANAGER: everything,
            MERCHANT_STAFF: [
                *(
                    f"catalog.{action}_{model}"
                    for model in ("product", "productvariant", "productimage")
                    for action in ("view", "change", "add")
                ),
                "catalog.view_merchant",
                "catalog.view_category",
            ],
            SUPPORT: [f"catalog.view_{model}" for model in MODELS],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_product_denormalized_search"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

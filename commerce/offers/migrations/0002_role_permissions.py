"""Give the staff roles their permissions on the offers models (see accounts.roles)."""

from django.db import migrations

from accounts.roles import ADMIN, CATALOG_MANAGER, MERCHANT_STAFF, SUPPORT, grant_role_permissions

MODELS = ("offer", "offerredemption", "offerclick", "offerdailystats", "offereventflush")
ACTIONS = ("add", "change", "delete", "view")
# Records the services write and nobody deletes (see 0004, which revokes these from databases that had them).
NEVER_DELETED = ("offerredemption", "offerclick", "offerdailystats")


def grant(apps, schema_editor):
    everything = [
        f"offers.{action}_{model}"
        for model in MODELS
        for action in ACTIONS
        if not (action == "delete" and model in NEVER_DELETED)
    ]
    grant_role_permissions(
        apps,
        {
            ADMIN: everything,
            CATALOG_MANAGER: everything,
            MERCHANT_STAFF: ["offers.view_offer", "offers.add_offer", "offers.change_offer"],
            SUPPORT: [f"offers.view_{model}" for model in MODELS],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

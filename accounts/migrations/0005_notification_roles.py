"""Roles on the notifications app (a lower layer, so its grants live here): support and admin can see the
delivery log and re-send dead letters."""

from django.db import migrations

from accounts.roles import ADMIN, SUPPORT, grant_role_permissions

ROLE_PERMISSIONS = {
    ADMIN: ["notifications.view_notification", "notifications.change_notification"],
    SUPPORT: ["notifications.view_notification", "notifications.change_notification"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_roles"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

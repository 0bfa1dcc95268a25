"""The staff roles (groups) and their permissions on accounts, auth, 2FA and lockout models.

Other apps grant the permissions on their own models in their own migrations (``grant_role_permissions``).
The full table is in the README ("Roles and permissions").
"""

from django.db import migrations

from accounts.roles import ADMIN, ALL_ROLES, FINANCE, SUPPORT, grant_role_permissions

ROLE_PERMISSIONS = {
    ADMIN: [
        "accounts.add_user",
        "accounts.change_user",
        "accounts.delete_user",
        "accounts.view_user",
        "accounts.view_auditentry",
        "accounts.view_smsdevice",
        "accounts.delete_smsdevice",
        "auth.add_group",
        "auth.change_group",
        "auth.delete_group",
        "auth.view_group",
        "auth.view_permission",
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "otp_static.view_staticdevice",
        "otp_static.delete_staticdevice",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
        "axes.view_accessfailurelog",
    ],
    SUPPORT: ["accounts.view_user", "axes.view_accessattempt"],
    FINANCE: ["accounts.view_user", "accounts.view_auditentry"],
}


def create_roles(apps, schema_editor):
    grant_role_permissions(apps, {role: ROLE_PERMISSIONS.get(role, []) for role in ALL_ROLES})


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_auditentry_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

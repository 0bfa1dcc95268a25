"""Staff roles. Each is a Django group created by a data migration with the model permissions its job needs;
the table of who may do what is in the README ("Roles and permissions")."""

ADMIN = "admin"
SUPPORT = "support"
FINANCE = "finance"
CATALOG_MANAGER = "catalog_manager"
MERCHANT_STAFF = "merchant_staff"

ALL_ROLES = (ADMIN, SUPPORT, FINANCE, CATALOG_MANAGER, MERCHANT_STAFF)


def grant_role_permissions(apps, role_permissions: dict[str, list[str]]) -> None:
    """For data migrations: give each role (group) the listed ``"app_label.codename"`` permissions.

    Each app grants the permissions on its own models in its own migration, so a lower app never has to know
    a higher app's models. Permissions are created first (Django otherwise creates them only after migrate).
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".", 1)
            permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
            group.permissions.add(permission)

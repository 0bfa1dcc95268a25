"""No role may delete redemptions, clicks or daily counts: they are written by the services only, a released
coupon use is marked released, never deleted, and the admin offers no delete for them. Revokes the delete
permissions that 0002 used to grant from every group (new databases never get them)."""

from django.db import migrations

REVOKED = ("delete_offerredemption", "delete_offerclick", "delete_offerdailystats")


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="offers", codename__in=REVOKED))
    for group in Group.objects.filter(permissions__in=permissions).distinct():
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("offers", "0003_currency_choices_and_append_only_redemptions")]

    operations = [migrations.RunPython(revoke, migrations.RunPython.noop)]

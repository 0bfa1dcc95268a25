"""Give the staff roles their permissions on the loyalty models (see accounts.roles and loyalty/admin.py), and
create the custom permission ``loyalty.adjust_points`` (the manual adjustment form; the models are fixed, so it
is created here on the points account's content type rather than through ``Meta.permissions``).

* **admin**: everything: edits the programme's settings, earning rules, campaigns, tiers, rewards and
  achievements; views members and every record; adjusts points (``loyalty.adjust_points``).
* **support**: views members (with their ledger, lots, tier history, holds and redemptions), the ledger, tier
  changes, holds, redemptions, achievements earned and referrals, and the tiers, rewards and achievements offered,
  to answer members. Adjusts points only when an admin gives a support user ``loyalty.adjust_points`` (the issue
  says "admin and support-with-permission only": not granted to the role).
* **finance**: views everything loyalty; changes nothing.
* **catalog_manager** and **merchant_staff**: nothing.

Nobody adds, changes or deletes accounts, entries, tier changes, holds, redemptions, awards or referrals through a
form: the services write them (the append-only tables have only a view permission).
"""

from django.db import migrations

from accounts.roles import ADMIN, FINANCE, SUPPORT, grant_role_permissions

ADJUST = "adjust_points"

MEMBER_RECORDS = [
    "loyalty.view_pointsaccount",
    "loyalty.view_pointsentry",
    "loyalty.view_pointslot",
    "loyalty.view_tierchange",
    "loyalty.view_pointshold",
    "loyalty.view_rewardredemption",
    "loyalty.view_achievementaward",
    "loyalty.view_referral",
]
OFFERED = ["loyalty.view_tier", "loyalty.view_reward", "loyalty.view_achievement"]
CONFIGURATION_VIEW = ["loyalty.view_programme", "loyalty.view_earningrule", "loyalty.view_campaign"]
CONFIGURATION_EDIT = [
    "loyalty.change_programme",
    "loyalty.add_earningrule",
    "loyalty.change_earningrule",
    "loyalty.delete_earningrule",
    "loyalty.add_campaign",
    "loyalty.change_campaign",
    "loyalty.delete_campaign",
    "loyalty.add_tier",
    "loyalty.change_tier",
    "loyalty.add_reward",
    "loyalty.change_reward",
    "loyalty.add_achievement",
    "loyalty.change_achievement",
]
EVERYTHING_VIEW = [*MEMBER_RECORDS, *OFFERED, *CONFIGURATION_VIEW]


def create_adjust_permission(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _ = ContentType.objects.get_or_create(app_label="loyalty", model="pointsaccount")
    Permission.objects.get_or_create(
        codename=ADJUST, content_type=content_type, defaults={"name": "Can adjust a member's points"}
    )


def grant(apps, schema_editor):
    create_adjust_permission(apps)
    grant_role_permissions(
        apps,
        {
            ADMIN: [*EVERYTHING_VIEW, *CONFIGURATION_EDIT, f"loyalty.{ADJUST}"],
            FINANCE: EVERYTHING_VIEW,
            SUPPORT: [*MEMBER_RECORDS, *OFFERED],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0005_default_achievements"),
        ("accounts", "0004_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]

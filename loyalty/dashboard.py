"""The loyalty dashboard cards (platform-wide: never shown to merchant-scoped users), one aggregate query each
(see :mod:`loyalty.member_selectors`), whatever range the dashboard shows:

* **Members by tier**: how many members hold each tier, and how many have none yet; for holders of
  ``loyalty.view_pointsaccount``; leads to the members.
* **Points, past week**: points made available (confirmed or earned) and points spent (at checkout or on rewards)
  over the last 7 days; for holders of ``loyalty.view_pointsentry``; leads to the ledger.
* **Rewards redeemed, past week**: how many rewards were bought over the last 7 days and for how many points; for
  holders of ``loyalty.view_rewardredemption``; leads to the redemptions.
"""

from datetime import timedelta

from commerce.core.dashboard import CardContext, CardData, Figure, Table, register_card

from .member_selectors import members_by_tier, points_flow, rewards_redeemed_since

WEEK_DAYS = 7


def tiers_card(ctx: CardContext) -> CardData:
    rows = members_by_tier()
    return CardData(
        figures=(Figure(label="Members", value=sum(members for _, members in rows)),),
        table=Table(headers=("Tier", "Members"), rows=tuple((name, f"{members:,d}") for name, members in rows)),
    )


def points_card(ctx: CardContext) -> CardData:
    flow = points_flow(since=ctx.now - timedelta(days=WEEK_DAYS))
    return CardData(figures=(Figure(label="Issued", value=flow.issued), Figure(label="Spent", value=flow.spent)))


def rewards_card(ctx: CardContext) -> CardData:
    count, points = rewards_redeemed_since(since=ctx.now - timedelta(days=WEEK_DAYS))
    return CardData(figures=(Figure(label="Redeemed", value=count), Figure(label="Points spent", value=points)))


def register() -> None:
    register_card(
        key="loyalty.tiers",
        title="Members by tier",
        order=600,
        builder=tiers_card,
        permission="loyalty.view_pointsaccount",
        platform_wide=True,
        link="admin:loyalty_pointsaccount_changelist",
    )
    register_card(
        key="loyalty.points",
        title="Points issued and spent, past week",
        order=610,
        builder=points_card,
        permission="loyalty.view_pointsentry",
        platform_wide=True,
        link="admin:loyalty_pointsentry_changelist",
    )
    register_card(
        key="loyalty.rewards",
        title="Rewards redeemed, past week",
        order=620,
        builder=rewards_card,
        permission="loyalty.view_rewardredemption",
        platform_wide=True,
        link="admin:loyalty_rewardredemption_changelist",
    )

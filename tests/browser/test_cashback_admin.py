"""The cashback back office in the browser: a finance staff member works the review queue (the reasons beside the
entry, "Approve and credit"), adjusts the shopper's wallet from its page and rejects a withdrawal with a reason;
a merchant's staff member sees only their own merchant's conversions."""

from decimal import Decimal

import pytest

from accounts.roles import FINANCE, MERCHANT_STAFF
from cashback.models import (
    CashbackEntry,
    CashbackStatus,
    ConversionReport,
    RiskAssessment,
    RiskLevel,
    Wallet,
    Withdrawal,
    WithdrawalStatus,
)
from tests.cashback.conftest import wallet_fund
from tests.cashback.test_selectors import conversion_entry, order_entry, withdrawal_held
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory, ProductFactory, ProductVariantFactory
from tests.factories import UserFactory
from tests.orders.factories import order_build

from .conftest import changelist_checkbox, run_action, submit

pytestmark = [pytest.mark.browser]


@pytest.fixture
def desk(browser_db):
    """A shopper with 500.00 available, a withdrawal of 200.00 held, and a risky cashback entry of 40.00 in the
    review queue (its amount pending in the wallet)."""
    shopper = UserFactory(email="priya@example.com")
    merchant = MerchantFactory(name="Kettle Corner", slug="kettle-corner", default_cashback_rate=Decimal("5.00"))
    product = ProductFactory(merchant=merchant, title="Copper Kettle")
    variant = ProductVariantFactory(product=product, sku="KETTLE-1L", price=Decimal("800.00"), stock_on_hand=10)
    order = order_build(user=shopper, lines=[(variant, 1)], status="delivered", number="ORD-KET101")
    entry = order_entry(
        order, amount="40.00", status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.HIGH, risk_score=85
    )
    RiskAssessment.objects.create(
        entry=entry,
        score=85,
        level=RiskLevel.HIGH,
        rules=[{"code": "shared_device", "weight": 85, "reason": "Device shared with 4 other accounts."}],
    )
    wallet_fund(user=shopper, amount="500.00")
    Wallet.objects.filter(user=shopper).update(pending=Decimal("40.00"))
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    return {"shopper": shopper, "merchant": merchant, "entry": entry, "withdrawal": withdrawal}


def test_finance_approves_cashback_adjusts_a_wallet_and_rejects_a_withdrawal(page, make_staff, signed_in, desk):
    user, _ = make_staff("finance@example.com", roles=(FINANCE,))
    signed_in(user)

    # The review queue opens with the entry, its score and the reason beside it.
    page.goto("/admin/")
    submit(page, page.get_by_role("link", name="Cashback review"))
    assert page.get_by_text("Device shared with 4 other accounts.").is_visible()
    changelist_checkbox(page, desk["entry"].pk).check()
    run_action(page, "Approve and credit")
    assert page.get_by_text(f"Approved and credited: {desk['entry'].pk}.").is_visible()
    assert CashbackEntry.objects.get(pk=desk["entry"].pk).status == CashbackStatus.CREDITED

    # The wallet: 540.00 less the 200.00 held; a staff adjustment from its page.
    wallet = Wallet.objects.get(user=desk["shopper"])
    page.goto(f"/admin/cashback/wallet/{wallet.pk}/change/")
    assert page.get_by_text("340.00 INR").first.is_visible()
    submit(page, page.get_by_role("link", name="Staff adjustment…"))
    page.get_by_label("Amount").fill("-15.00")
    page.get_by_label("Reason").fill("Goodwill credit reversed: duplicate")
    submit(page, page.get_by_role("button", name="Adjust"))
    assert page.get_by_text("Adjusted by -15.00 INR; available now 325.00 INR.").is_visible()

    # The withdrawal: rejected with a reason, its hold released.
    page.goto("/admin/cashback/withdrawal/")
    assert page.get_by_text("UPI pr***@okaxis").is_visible()
    changelist_checkbox(page, desk["withdrawal"].pk).check()
    run_action(page, "Reject (with a reason)…")
    page.get_by_label("Reason").fill("The UPI name does not match the account")
    submit(page, page.get_by_role("button", name="Reject"))
    assert page.get_by_text(f"Rejected (the money is back in the wallet): {desk['withdrawal'].pk}.").is_visible()
    assert Withdrawal.objects.get(pk=desk["withdrawal"].pk).status == WithdrawalStatus.REJECTED
    wallet.refresh_from_db()
    assert (wallet.available, wallet.pending, wallet.held) == (Decimal("525.00"), Decimal("0.00"), Decimal("0.00"))


def test_merchant_staff_see_their_own_conversions_only(page, make_staff, signed_in, desk):
    mine = conversion_entry(user=desk["shopper"], merchant=desk["merchant"], reference="KC-5001").conversion
    ConversionReport.objects.create(
        merchant=desk["merchant"], conversion=mine, body='{"reference": "KC-5001"}', outcome="accepted"
    )
    conversion_entry(user=desk["shopper"], merchant=MerchantFactory(name="Teapot Palace"), reference="TP-7001")
    user, _ = make_staff("staff@kettle-corner.example.com", roles=(MERCHANT_STAFF,))
    MerchantMembershipFactory(merchant=desk["merchant"], user=user)
    signed_in(user)

    page.goto("/admin/")
    submit(page, page.get_by_role("link", name="Conversions"))

    assert page.get_by_text("KC-5001").first.is_visible()
    assert page.get_by_text("TP-7001").count() == 0
    assert page.get_by_text("priya@example.com").count() == 0
    assert page.get_by_role("link", name="Cashback review").count() == 0
    assert page.goto("/admin/cashback/wallet/").status == 403

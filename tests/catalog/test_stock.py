"""Stock services: audited changes of the stock on hand, allocation without touching the product row, and
concurrency on PostgreSQL (allocations on sibling variants do not block each other; the last unit goes once)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from commerce.catalog import services
from commerce.catalog.models import Product, ProductVariant
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from tests.catalog.factories import ProductFactory, ProductVariantFactory
from tests.concurrency import in_thread, run_together
from tests.factories import StaffFactory

PRODUCT_TABLE = '"catalog_product"'


def _product_writes_and_locks(queries) -> list[str]:
    """Statements that write or lock the product table (not the variant table, whose name it prefixes)."""
    found = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith(f"UPDATE {PRODUCT_TABLE}") or (
            "FOR UPDATE" in sql and f"FROM {PRODUCT_TABLE}" in sql.split(" WHERE ")[0]
        ):
            found.append(sql)
    return found


@pytest.mark.django_db
def test_set_on_hand_is_audited_with_before_after_reason_and_actor():
    staff = StaffFactory(email="stock@example.com")
    variant = ProductVariantFactory(sku="TEE-M", stock_on_hand=5, stock_allocated=2)

    returned = services.variant_stock_set_on_hand(variant_id=variant.pk, on_hand=12, reason="delivery", actor=staff)

    assert (returned.stock_on_hand, returned.stock_allocated) == (12, 2)
    assert ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk) == (12, 2)
    entry = AuditEntry.objects.get()
    assert entry.action == "stock.adjusted"
    assert (entry.actor_id, entry.target_type, entry.target_id, entry.target_label) == (
        staff.pk,
        "catalog.productvariant",
        str(variant.pk),
        "TEE-M",
    )
    assert entry.before == {"stock_on_hand": 5, "stock_allocated": 2}
    assert entry.after == {"stock_on_hand": 12, "stock_allocated": 2, "reason": "delivery"}


@pytest.mark.django_db
def test_stock_on_hand_cannot_go_below_the_allocation():
    variant = ProductVariantFactory(sku="TEE-L", stock_on_hand=5, stock_allocated=3)

    with pytest.raises(Conflict) as exc:
        services.variant_stock_set_on_hand(variant_id=variant.pk, on_hand=2, reason="recount")
    assert exc.value.status == 409
    assert exc.value.as_dict() == {
        "code": "stock_below_allocated",
        "detail": "SKU TEE-L has 3 units allocated; the stock on hand cannot go below that (asked for 2).",
    }
    with pytest.raises(Conflict) as exc:
        services.variant_stock_adjust(variant_id=variant.pk, delta=-3, reason="write-off")
    assert exc.value.code == "stock_below_allocated"

    assert ProductVariant.objects.values_list("stock_on_hand", flat=True).get(pk=variant.pk) == 5
    assert AuditEntry.objects.count() == 0
    # Down to exactly the allocation is fine.
    services.variant_stock_adjust(variant_id=variant.pk, delta=-2, reason="write-off")
    assert ProductVariant.objects.values_list("stock_on_hand", flat=True).get(pk=variant.pk) == 3


@pytest.mark.django_db
def test_adjust_adds_to_the_locked_row():
    variant = ProductVariantFactory(stock_on_hand=4)
    services.variant_stock_adjust(variant_id=variant.pk, delta=6, reason="delivery")
    services.variant_stock_adjust(variant_id=variant.pk, delta=-1, reason="damaged")
    assert ProductVariant.objects.values_list("stock_on_hand", flat=True).get(pk=variant.pk) == 9
    assert list(AuditEntry.objects.order_by("pk").values_list("before", "after")) == [
        ({"stock_on_hand": 4, "stock_allocated": 0}, {"stock_on_hand": 10, "stock_allocated": 0, "reason": "delivery"}),
        ({"stock_on_hand": 10, "stock_allocated": 0}, {"stock_on_hand": 9, "stock_allocated": 0, "reason": "damaged"}),
    ]


@pytest.mark.django_db
def test_setting_the_same_figure_records_nothing():
    variant = ProductVariantFactory(stock_on_hand=4)
    services.variant_stock_set_on_hand(variant_id=variant.pk, on_hand=4, reason="recount")
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda pk: services.variant_stock_set_on_hand(variant_id=pk, on_hand=-1, reason="x"), "on_hand"),
        (lambda pk: services.variant_stock_set_on_hand(variant_id=pk, on_hand=True, reason="x"), "on_hand"),
        (lambda pk: services.variant_stock_set_on_hand(variant_id=pk, on_hand=2**31, reason="x"), "on_hand"),
        (lambda pk: services.variant_stock_set_on_hand(variant_id=pk, on_hand=3, reason="  "), "reason"),
        (lambda pk: services.variant_stock_set_on_hand(variant_id=pk, on_hand=3, reason="x" * 201), "reason"),
        (lambda pk: services.variant_stock_adjust(variant_id=pk, delta=0, reason="x"), "delta"),
        (lambda pk: services.variant_stock_adjust(variant_id=pk, delta=-5, reason="x"), "on_hand"),
    ],
    ids=["negative", "boolean", "too-large", "blank-reason", "long-reason", "zero-delta", "below-zero"],
)
def test_bad_stock_input_is_invalid_not_a_crash(call, field):
    variant = ProductVariantFactory(stock_on_hand=4)
    with pytest.raises(InvalidInput) as exc:
        call(variant.pk)
    assert list(exc.value.fields) == [field]
    assert ProductVariant.objects.values_list("stock_on_hand", flat=True).get(pk=variant.pk) == 4


@pytest.mark.django_db
def test_unknown_variant_is_not_found():
    with pytest.raises(NotFoundError):
        services.variant_stock_set_on_hand(variant_id=0, on_hand=1, reason="recount")
    with pytest.raises(NotFoundError):
        services.variants_stock_allocate(quantities={0: 1})


@pytest.mark.django_db
def test_new_variant_gets_its_initial_stock_through_the_audited_service():
    product = ProductFactory()
    staff = StaffFactory()

    variant = services.variant_create(
        product=product, sku="NEW-1", price=Decimal("250.00"), stock_on_hand=7, actor=staff
    )

    assert ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk) == (7, 0)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.before, entry.after) == (
        "stock.adjusted",
        staff.pk,
        {"stock_on_hand": 0, "stock_allocated": 0},
        {"stock_on_hand": 7, "stock_allocated": 0, "reason": "initial stock"},
    )
    assert Product.objects.values_list("min_price", "currency", "in_stock").get(pk=product.pk) == (
        Decimal("250.00"),
        "INR",
        True,
    )


@pytest.mark.django_db
def test_a_new_variant_ignores_stock_figures_set_on_the_object():
    product = ProductFactory()
    variant = ProductVariant(product=product, sku="SNEAKY", price=Decimal("5.00"), stock_on_hand=50, stock_allocated=9)
    services.variant_save(variant=variant)
    assert ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk) == (0, 0)
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_saving_a_stale_variant_keeps_the_stock_written_since():
    variant = ProductVariantFactory(stock_on_hand=5)
    stale = ProductVariant.objects.get(pk=variant.pk)
    services.variant_stock_allocate(variant_id=variant.pk, quantity=2)
    services.variant_stock_adjust(variant_id=variant.pk, delta=3, reason="delivery")

    stale.price = Decimal("450.00")
    services.variant_save(variant=stale)

    assert ProductVariant.objects.values_list("price", "stock_on_hand", "stock_allocated").get(pk=variant.pk) == (
        Decimal("450.00"),
        8,
        2,
    )
    assert (stale.stock_on_hand, stale.stock_allocated) == (8, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["KWD", "BHD", "OMR", "XYZ", "inr"])
def test_variant_writes_refuse_currencies_the_price_column_cannot_hold(currency):
    product = ProductFactory()
    with pytest.raises(ValidationError) as exc:
        services.variant_create(product=product, sku="K-1", price=Decimal("1.25"), currency=currency)
    assert list(exc.value.message_dict) == ["currency"]
    assert not ProductVariant.objects.filter(sku="K-1").exists()

    existing = ProductVariantFactory(product=product, currency="INR")
    existing.currency = currency
    with pytest.raises(ValidationError):
        services.variant_save(variant=existing)
    assert ProductVariant.objects.values_list("currency", flat=True).get(pk=existing.pk) == "INR"


@pytest.mark.django_db
def test_a_price_with_more_places_than_the_column_is_refused_not_rounded():
    product = ProductFactory()
    with pytest.raises(ValidationError) as exc:
        services.variant_create(product=product, sku="K-2", price=Decimal("1.255"), currency="INR")
    assert exc.value.message_dict == {"price": ["Ensure that there are no more than 2 decimal places."]}
    assert not ProductVariant.objects.filter(sku="K-2").exists()


@pytest.mark.django_db
def test_allocation_that_takes_the_last_unit_flips_in_stock():
    product = ProductFactory()
    variant = ProductVariantFactory(product=product, stock_on_hand=2)
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is True

    services.variant_stock_allocate(variant_id=variant.pk, quantity=2)
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is False

    services.variant_stock_release(variant_id=variant.pk, quantity=1)
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is True


@pytest.mark.django_db
def test_allocation_that_leaves_the_variant_available_never_writes_or_locks_the_product_row():
    product = ProductFactory()
    variant = ProductVariantFactory(product=product, stock_on_hand=10)
    ProductVariantFactory(product=product, stock_on_hand=0)
    before = Product.objects.values_list("updated_at", "min_price", "in_stock").get(pk=product.pk)

    with CaptureQueriesContext(connection) as ctx:
        services.variant_stock_allocate(variant_id=variant.pk, quantity=3)
        services.variant_stock_release(variant_id=variant.pk, quantity=1)
        services.variant_stock_fulfil(variant_id=variant.pk, quantity=2)
        services.variant_stock_adjust(variant_id=variant.pk, delta=5, reason="delivery")

    assert _product_writes_and_locks(ctx.captured_queries) == []
    assert Product.objects.values_list("updated_at", "min_price", "in_stock").get(pk=product.pk) == before
    assert ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk) == (13, 0)


@pytest.mark.django_db
def test_selling_out_one_of_two_variants_writes_nothing_to_the_product():
    product = ProductFactory()
    last = ProductVariantFactory(product=product, stock_on_hand=1)
    ProductVariantFactory(product=product, stock_on_hand=4)

    with CaptureQueriesContext(connection) as ctx:
        services.variant_stock_allocate(variant_id=last.pk, quantity=1)

    assert [sql for sql in _product_writes_and_locks(ctx.captured_queries) if sql.startswith("UPDATE")] == []
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is True


@pytest.mark.django_db
def test_bulk_allocation_is_all_or_nothing():
    first = ProductVariantFactory(sku="A-1", stock_on_hand=5)
    second = ProductVariantFactory(sku="B-1", stock_on_hand=1)

    with pytest.raises(Conflict) as exc:
        services.variants_stock_allocate(quantities={first.pk: 2, second.pk: 2})
    assert (exc.value.code, exc.value.detail) == ("insufficient_stock", "Only 1 left of SKU B-1.")
    assert list(ProductVariant.objects.order_by("pk").values_list("stock_allocated", flat=True)) == [0, 0]

    allocated = services.variants_stock_allocate(quantities={first.pk: 2, second.pk: 1})
    assert {pk: variant.stock_allocated for pk, variant in allocated.items()} == {first.pk: 2, second.pk: 1}
    assert Product.objects.values_list("in_stock", flat=True).get(pk=second.product_id) is False
    assert Product.objects.values_list("in_stock", flat=True).get(pk=first.product_id) is True


@pytest.mark.django_db
def test_bulk_allocation_refreshes_the_touched_products_once():
    product = ProductFactory()
    variants = [ProductVariantFactory(product=product, stock_on_hand=1) for _ in range(3)]
    quantities = {variant.pk: 1 for variant in variants}

    with CaptureQueriesContext(connection) as ctx:
        services.variants_stock_allocate(quantities=quantities)

    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f"UPDATE {PRODUCT_TABLE}")]
    assert len(updates) == 1
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_allocations_on_two_variants_of_one_product_do_not_block_each_other():
    product = ProductFactory()
    first = ProductVariantFactory(product=product, stock_on_hand=10)
    second = ProductVariantFactory(product=product, stock_on_hand=10)
    allocated, release = threading.Event(), threading.Event()

    def hold_an_allocation():
        with transaction.atomic():
            services.variant_stock_allocate(variant_id=first.pk, quantity=1)
            allocated.set()
            release.wait(10)

    def allocate_the_sibling():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            return services.variant_stock_allocate(variant_id=second.pk, quantity=1).stock_allocated

    holder, held = in_thread(hold_an_allocation)
    try:
        assert allocated.wait(10)
        sibling, result = in_thread(allocate_the_sibling)
        sibling.join(15)
        assert result == {"value": 1}  # finished while the first transaction still held its locks
        assert holder.is_alive()
    finally:
        release.set()
        holder.join(15)
    assert "error" not in held
    assert list(ProductVariant.objects.order_by("pk").values_list("stock_allocated", flat=True)) == [1, 1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_allocations_of_the_last_unit_let_exactly_one_through():
    variant = ProductVariantFactory(stock_on_hand=1)

    def allocate():
        return services.variant_stock_allocate(variant_id=variant.pk, quantity=1).stock_allocated

    results = run_together([allocate, allocate])

    assert sorted("value" if "value" in r else r["error"].code for r in results) == ["insufficient_stock", "value"]
    assert ProductVariant.objects.values_list("stock_allocated", flat=True).get(pk=variant.pk) == 1
    assert Product.objects.values_list("in_stock", flat=True).get(pk=variant.product_id) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_selling_out_two_variants_at_once_leaves_the_product_out_of_stock():
    """Each sale alone would see the other variant still available; the product lock taken on a sell-out makes
    the second one recompute after the first has committed."""
    product = ProductFactory()
    first = ProductVariantFactory(product=product, stock_on_hand=1)
    second = ProductVariantFactory(product=product, stock_on_hand=1)
    allocated, release = threading.Event(), threading.Event()

    def sell_out_first():
        with transaction.atomic():
            services.variant_stock_allocate(variant_id=first.pk, quantity=1)
            allocated.set()
            release.wait(10)

    holder, held = in_thread(sell_out_first)
    assert allocated.wait(10)
    other, result = in_thread(lambda: services.variant_stock_allocate(variant_id=second.pk, quantity=1))
    other.join(0.5)
    assert other.is_alive()  # waits for the product lock of the first sell-out
    release.set()
    holder.join(15)
    other.join(15)

    assert "error" not in held and "error" not in result
    assert Product.objects.values_list("in_stock", flat=True).get(pk=product.pk) is False

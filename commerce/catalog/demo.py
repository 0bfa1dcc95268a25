"""Demo data of the catalog: 8 merchants (one suspended), a two-level tree of 36 categories and 1,200 products
with variants, stock and images.

Deterministic (``random.Random(42)``) and idempotent: rows are identified by slug, only missing ones are
created, so a second run creates nothing. Everything is written with ``bulk_create`` (signals do not fire),
then the denormalised product columns and search vectors are refreshed in bulk and the caches invalidated.
"""

import random
from decimal import Decimal
from typing import Any

from django.utils.text import slugify

from . import services
from .models import (
    Category,
    Merchant,
    MerchantStatus,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)

SEED = 42
PRODUCT_COUNT = 1200

MERCHANTS: list[dict[str, Any]] = [
    {"name": "TechHaven", "cashback": "4.00", "commission": "8.00"},
    {"name": "SoundWave Audio", "cashback": "6.00", "commission": "10.00"},
    {"name": "Urban Threads", "cashback": "8.00", "commission": "15.00"},
    {"name": "HomeNest", "cashback": "5.00", "commission": "12.00"},
    {"name": "Glow Beauty", "cashback": "10.00", "commission": "18.00"},
    {"name": "FitFuel Sports", "cashback": "7.00", "commission": "12.00"},
    {"name": "Bookworm Books", "cashback": "3.00", "commission": "6.00"},
    {"name": "DailyBasket", "cashback": "2.00", "commission": "5.00", "status": MerchantStatus.SUSPENDED},
]

# root -> [(child, merchants that sell it, brands, nouns, (min price, max price), option kind)]
CATALOG: dict[str, list[tuple[str, list[str], list[str], list[str], tuple[int, int], str]]] = {
    "Electronics": [
        (
            "Mobiles",
            ["TechHaven"],
            ["Nova", "Pixelon", "Orbit"],
            ["Smartphone", "5G Phone", "Phone"],
            (6999, 89999),
            "storage",
        ),
        (
            "Laptops",
            ["TechHaven"],
            ["Zentek", "Aero", "Nova"],
            ["Laptop", "Ultrabook", "Notebook"],
            (29999, 149999),
            "storage",
        ),
        (
            "Headphones",
            ["SoundWave Audio", "TechHaven"],
            ["Bassline", "Aurora", "Sonic"],
            ["Wireless Headphones", "Earbuds", "Noise Cancelling Headphones"],
            (799, 24999),
            "colour",
        ),
        (
            "Speakers",
            ["SoundWave Audio"],
            ["Bassline", "Boomix"],
            ["Bluetooth Speaker", "Soundbar", "Party Speaker"],
            (1499, 29999),
            "colour",
        ),
        (
            "Cameras",
            ["TechHaven"],
            ["Lumix", "Optika"],
            ["Mirrorless Camera", "Action Camera", "Instant Camera"],
            (4999, 119999),
            "colour",
        ),
        (
            "Smart Watches",
            ["TechHaven", "FitFuel Sports"],
            ["Pulse", "Orbit"],
            ["Smart Watch", "Fitness Band"],
            (1999, 39999),
            "colour",
        ),
    ],
    "Fashion": [
        (
            "Men's Clothing",
            ["Urban Threads"],
            ["Northline", "Denimco", "Basics"],
            ["Cotton T-Shirt", "Slim Fit Jeans", "Linen Shirt", "Hoodie"],
            (399, 3999),
            "size",
        ),
        (
            "Women's Clothing",
            ["Urban Threads"],
            ["Mira", "Denimco", "Basics"],
            ["Summer Dress", "Kurta", "High Rise Jeans", "Cardigan"],
            (499, 4999),
            "size",
        ),
        (
            "Footwear",
            ["Urban Threads", "FitFuel Sports"],
            ["Stride", "Trekker"],
            ["Running Shoes", "Sneakers", "Sandals", "Loafers"],
            (699, 8999),
            "shoe",
        ),
        (
            "Bags",
            ["Urban Threads"],
            ["Carryall", "Northline"],
            ["Backpack", "Tote Bag", "Sling Bag"],
            (499, 5999),
            "colour",
        ),
        (
            "Watches",
            ["Urban Threads", "TechHaven"],
            ["Chrono", "Mira"],
            ["Analog Watch", "Chronograph Watch"],
            (999, 19999),
            "colour",
        ),
    ],
    "Home & Kitchen": [
        (
            "Furniture",
            ["HomeNest"],
            ["Woodcraft", "Casa"],
            ["Study Table", "Bookshelf", "Armchair", "Coffee Table"],
            (2999, 39999),
            "none",
        ),
        (
            "Kitchen Appliances",
            ["HomeNest", "TechHaven"],
            ["Chefmate", "Brewmaster"],
            ["Mixer Grinder", "Air Fryer", "Electric Kettle", "Coffee Maker"],
            (999, 14999),
            "none",
        ),
        (
            "Cookware",
            ["HomeNest"],
            ["Chefmate", "Ironclad"],
            ["Non-stick Pan", "Pressure Cooker", "Cast Iron Skillet"],
            (499, 5999),
            "none",
        ),
        (
            "Decor",
            ["HomeNest"],
            ["Casa", "Lumen"],
            ["Table Lamp", "Wall Clock", "Ceramic Vase", "Photo Frame"],
            (299, 4999),
            "colour",
        ),
        (
            "Bedding",
            ["HomeNest"],
            ["Dreamweave", "Casa"],
            ["Cotton Bedsheet", "Comforter", "Memory Foam Pillow"],
            (499, 6999),
            "bed",
        ),
    ],
    "Beauty": [
        (
            "Skincare",
            ["Glow Beauty"],
            ["Dewy", "Botanica"],
            ["Face Wash", "Moisturiser", "Sunscreen SPF 50", "Serum"],
            (199, 2499),
            "volume",
        ),
        (
            "Makeup",
            ["Glow Beauty"],
            ["Velvet", "Dewy"],
            ["Matte Lipstick", "Kajal", "Foundation", "Compact Powder"],
            (149, 1999),
            "shade",
        ),
        (
            "Fragrances",
            ["Glow Beauty"],
            ["Essence", "Noir"],
            ["Eau de Parfum", "Body Mist", "Deodorant"],
            (199, 5999),
            "volume",
        ),
        (
            "Hair Care",
            ["Glow Beauty"],
            ["Botanica", "Silken"],
            ["Shampoo", "Conditioner", "Hair Oil"],
            (149, 1499),
            "volume",
        ),
    ],
    "Sports & Fitness": [
        (
            "Fitness Equipment",
            ["FitFuel Sports"],
            ["Ironfit", "Flexa"],
            ["Dumbbell Set", "Yoga Mat", "Resistance Bands", "Kettlebell"],
            (299, 9999),
            "none",
        ),
        (
            "Sportswear",
            ["FitFuel Sports", "Urban Threads"],
            ["Flexa", "Stride"],
            ["Track Pants", "Dry Fit T-Shirt", "Sports Bra", "Shorts"],
            (399, 2999),
            "size",
        ),
        (
            "Cycling",
            ["FitFuel Sports"],
            ["Velo", "Trekker"],
            ["Mountain Bike", "Cycling Helmet", "Bike Light"],
            (499, 34999),
            "none",
        ),
        (
            "Nutrition",
            ["FitFuel Sports", "DailyBasket"],
            ["Fuelup", "Pureform"],
            ["Whey Protein", "Protein Bar Box", "Electrolyte Drink"],
            (299, 4999),
            "flavour",
        ),
    ],
    "Books": [
        (
            "Fiction",
            ["Bookworm Books"],
            ["Penguin House", "Harbour Press"],
            ["Mystery Novel", "Fantasy Saga", "Romance Novel"],
            (199, 999),
            "format",
        ),
        (
            "Non-fiction",
            ["Bookworm Books"],
            ["Harbour Press", "Insight"],
            ["Biography", "Self-help Guide", "History of India"],
            (249, 1499),
            "format",
        ),
        (
            "Children's Books",
            ["Bookworm Books"],
            ["Little Owl", "Penguin House"],
            ["Picture Book", "Activity Book", "Bedtime Stories"],
            (99, 799),
            "format",
        ),
    ],
    "Grocery": [
        (
            "Snacks",
            ["DailyBasket"],
            ["Crunchy", "Nutty"],
            ["Roasted Almonds", "Masala Chips", "Trail Mix"],
            (49, 899),
            "pack",
        ),
        (
            "Beverages",
            ["DailyBasket"],
            ["Leafy", "Brewmaster"],
            ["Green Tea", "Filter Coffee", "Cold Brew"],
            (99, 1299),
            "pack",
        ),
    ],
}

OPTIONS: dict[str, list[dict[str, str]]] = {
    "size": [{"size": size} for size in ("S", "M", "L", "XL")],
    "shoe": [{"size": size} for size in ("UK 7", "UK 8", "UK 9", "UK 10")],
    "colour": [{"colour": colour} for colour in ("Black", "White", "Blue")],
    "storage": [{"storage": storage} for storage in ("128 GB", "256 GB", "512 GB")],
    "bed": [{"size": size} for size in ("Single", "Double", "King")],
    "volume": [{"volume": volume} for volume in ("50 ml", "100 ml", "200 ml")],
    "shade": [{"shade": shade} for shade in ("Nude", "Ruby", "Coral")],
    "flavour": [{"flavour": flavour} for flavour in ("Chocolate", "Vanilla", "Unflavoured")],
    "format": [{"format": fmt} for fmt in ("Paperback", "Hardcover")],
    "pack": [{"pack": pack} for pack in ("200 g", "500 g", "1 kg")],
    "none": [{}],
}
ADJECTIVES = ["Classic", "Pro", "Lite", "Max", "Essential", "Premium", "Everyday", "Ultra", "Prime", "Eco"]


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    # Prices end in 9 as shops like them: 1,499.00 rather than 1,503.00.
    value = rng.randint(low // 10, high // 10) * 10 + 9
    return Decimal(value).quantize(Decimal("0.01"))


def _seed_merchants() -> dict[str, Merchant]:
    existing = set(Merchant.objects.values_list("slug", flat=True))
    Merchant.objects.bulk_create(
        [
            Merchant(
                name=spec["name"],
                slug=slugify(spec["name"]),
                status=spec.get("status", MerchantStatus.ACTIVE),
                website=f"https://{slugify(spec['name'])}.example.com",
                support_email=f"support@{slugify(spec['name'])}.example.com",
                default_cashback_rate=Decimal(spec["cashback"]),
                commission_rate=Decimal(spec["commission"]),
            )
            for spec in MERCHANTS
            if slugify(spec["name"]) not in existing
        ]
    )
    wanted = [slugify(spec["name"]) for spec in MERCHANTS]
    return {merchant.name: merchant for merchant in Merchant.objects.filter(slug__in=wanted)}


def _seed_categories() -> dict[str, Category]:
    existing = set(Category.objects.values_list("slug", flat=True))
    Category.objects.bulk_create(
        [
            Category(name=root, slug=slugify(root), position=position)
            for position, root in enumerate(CATALOG)
            if slugify(root) not in existing
        ]
    )
    roots = {category.name: category for category in Category.objects.filter(slug__in=[slugify(r) for r in CATALOG])}
    children = [
        Category(name=child[0], slug=slugify(child[0]), parent=roots[root], position=position)
        for root, specs in CATALOG.items()
        for position, child in enumerate(specs)
        if slugify(child[0]) not in existing
    ]
    Category.objects.bulk_create(children)
    slugs = [slugify(child[0]) for specs in CATALOG.values() for child in specs]
    return {category.name: category for category in Category.objects.filter(slug__in=slugs)}


def seed(*, stdout) -> None:
    rng = random.Random(SEED)  # noqa: S311  (deterministic demo data, not security)
    merchants = _seed_merchants()
    categories = _seed_categories()
    leaves = [(root, spec) for root, specs in CATALOG.items() for spec in specs]

    # Generate the full deterministic plan, then create only what is missing.
    plan: list[dict[str, Any]] = []
    for number in range(1, PRODUCT_COUNT + 1):
        root, (category_name, merchant_names, brands, nouns, (low, high), option_kind) = leaves[
            (number - 1) % len(leaves)
        ]
        brand = rng.choice(brands)
        noun = rng.choice(nouns)
        adjective = rng.choice(ADJECTIVES)
        title = f"{brand} {adjective} {noun} {number:04d}"
        status_roll = rng.random()
        status = (
            ProductStatus.DRAFT
            if status_roll < 0.04
            else ProductStatus.ARCHIVED
            if status_roll < 0.08
            else ProductStatus.ACTIVE
        )
        base_price = _price(rng, low, high)
        options = OPTIONS[option_kind]
        variant_options = options if len(options) == 1 else rng.sample(options, rng.randint(1, len(options)))
        variants = []
        for index, option in enumerate(variant_options):
            price = base_price + Decimal(index * rng.choice([0, 100, 200, 500]))
            on_hand = 0 if rng.random() < 0.12 else rng.randint(1, 60)
            variants.append(
                {
                    "options": option,
                    "price": price,
                    "compare_at_price": (price * Decimal("1.25")).quantize(Decimal("1"))
                    if rng.random() < 0.4
                    else None,
                    "stock_on_hand": on_hand,
                    "stock_allocated": rng.randint(0, on_hand // 4) if on_hand else 0,
                }
            )
        plan.append(
            {
                "number": number,
                "slug": slugify(title),
                "title": title,
                "brand": brand,
                "merchant": merchants[rng.choice(merchant_names)],
                "category": categories[category_name],
                "status": status,
                "popularity": rng.randint(0, 5000),
                "description": (
                    f"The {brand} {adjective.lower()} {noun.lower()} from our {category_name.lower()} range "
                    f"({root.lower()}). {rng.choice(['Best seller.', 'New arrival.', 'Limited stock.', 'Top rated.'])}"
                ),
                "attributes": {"material": rng.choice(["cotton", "steel", "plastic", "wood", "glass", "blend"])}
                if option_kind in {"size", "none", "bed"}
                else {},
                "variants": variants,
            }
        )

    existing = set(Product.objects.filter(slug__in=[item["slug"] for item in plan]).values_list("slug", flat=True))
    missing = [item for item in plan if item["slug"] not in existing]
    created = Product.objects.bulk_create(
        [
            Product(
                merchant=item["merchant"],
                category=item["category"],
                title=item["title"],
                slug=item["slug"],
                description=item["description"],
                brand=item["brand"],
                attributes=item["attributes"],
                status=item["status"],
                popularity=item["popularity"],
            )
            for item in missing
        ],
        batch_size=500,
    )
    # bulk_create sets primary keys on PostgreSQL and SQLite; read them back by slug to be independent of that.
    ids = dict(Product.objects.filter(slug__in=[item["slug"] for item in missing]).values_list("slug", "id"))
    variants, images = [], []
    for item in missing:
        product_id = ids[item["slug"]]
        for index, spec in enumerate(item["variants"]):
            sku = f"DEMO-{item['number']:04d}-{index + 1}"
            variants.append(ProductVariant(product_id=product_id, sku=sku, **spec))
        images.append(
            ProductImage(
                product_id=product_id,
                url=f"https://picsum.photos/seed/{item['slug']}/600/600",
                alt_text=item["title"],
                position=0,
            )
        )
    ProductVariant.objects.bulk_create(variants, batch_size=1000)
    ProductImage.objects.bulk_create(images, batch_size=1000)
    services.products_refresh_denormalized(product_ids=ids.values())
    if created:
        services.catalog_invalidate_all()
    stdout.write(
        f"Catalog: {len(merchants)} merchants, {len(categories) + len(CATALOG)} categories, "
        f"{len(created)} new products ({len(variants)} variants); "
        f"{len(existing)} products were already there."
    )

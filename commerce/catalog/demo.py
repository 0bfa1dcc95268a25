"""Demo data of the catalog: 8 merchants (one suspended), a two-level tree of 36 categories and 1,200 products
with variants, stock and images, that look like a shop.

- Every merchant sells what its name says: each leaf category lists the merchants that sell it (TechHaven
  electronics, SoundWave Audio headphones and speakers, Urban Threads clothes, shoes, bags and watches, ...).
- Titles read like real listings and carry no serial numbers: brand + product line + product
  ("Sonora Pulse ANC Wireless Headphones"), or a book title for books ("The Silent Harbour"). Each leaf
  enumerates its word combinations, shuffles them with the seeded random generator and takes as many as it
  needs, so titles and slugs are unique.
- Prices come from a range per product type (a bicycle helmet is not priced like a bicycle) and end in 9.

Deterministic (``random.Random(42)``) and idempotent: rows are identified by slug, only missing ones are
created, so a second run creates nothing. Everything is written with ``bulk_create``, then the denormalised
product columns and search vectors are refreshed explicitly (``products_refresh_denormalized``) and the
caches invalidated.
"""

import itertools
import random
import re
from dataclasses import dataclass, field
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

BRAND_LINE_ITEM = "{brand} {line} {item}"


@dataclass(frozen=True)
class Leaf:
    """A leaf category and how its products are made up.

    ``templates`` pair a title pattern with its word pools; ``{brand}`` in a pattern takes the brand from
    ``brands`` (otherwise the brand, e.g. a book's publisher, is picked at random). ``items`` name the product
    types with their price ranges; a pattern with ``{item}`` uses them. ``merchants`` are (name, weight).
    """

    name: str
    merchants: tuple[tuple[str, int], ...]
    count: int
    brands: tuple[str, ...]
    items: dict[str, tuple[int, int]]
    options: str
    lines: tuple[str, ...] = ()
    templates: tuple[tuple[str, dict[str, tuple[str, ...]]], ...] = ()
    blurbs: tuple[str, ...] = field(default=())

    def patterns(self) -> tuple[tuple[str, dict[str, tuple[str, ...]]], ...]:
        if self.templates:
            return self.templates
        return ((BRAND_LINE_ITEM, {"brand": self.brands, "line": self.lines, "item": tuple(self.items)}),)


def _leaf(name: str, merchants: str | tuple[tuple[str, int], ...], count: int, **spec: Any) -> Leaf:
    owners = ((merchants, 1),) if isinstance(merchants, str) else merchants
    return Leaf(name=name, merchants=owners, count=count, **spec)


GADGET_BLURBS = ("One-year warranty.", "Free next-day delivery.", "New launch.", "Top rated by buyers.")
STYLE_BLURBS = ("Easy 30-day returns.", "New season.", "Bestseller.", "Only a few left in some sizes.")
HOME_BLURBS = ("Free delivery and installation.", "Two-year warranty.", "Customer favourite.", "New arrival.")
CARE_BLURBS = ("Dermatologically tested.", "Cruelty free.", "Bestseller.", "New formula.")
SPORT_BLURBS = ("Built for daily training.", "Bestseller.", "New arrival.", "Loved by our running club.")
BOOK_BLURBS = ("A reader favourite.", "Now in paperback.", "Shortlisted for the Harbour Prize.", "New edition.")
PANTRY_BLURBS = ("Freshly packed.", "No added preservatives.", "Bestseller.", "Value pack available.")

# Root category -> its leaves, in menu order. Product counts add up to 1,200.
CATALOG: dict[str, list[Leaf]] = {
    "Electronics": [
        _leaf(
            "Mobiles",
            "TechHaven",
            45,
            brands=("Nova", "Pixelon", "Orbit", "Kairo"),
            lines=("Edge", "Neo", "Zen", "Prime", "Air", "Max"),
            items={
                "5G Smartphone": (14999, 89999),
                "Smartphone": (6999, 29999),
                "Foldable Smartphone": (79999, 149999),
            },
            options="storage",
            blurbs=GADGET_BLURBS,
        ),
        _leaf(
            "Laptops",
            "TechHaven",
            40,
            brands=("Zentek", "Aero", "Nova", "Kairo"),
            lines=("Book", "Flex", "Studio", "Pro", "Slate"),
            items={
                "14-inch Laptop": (34999, 89999),
                "16-inch Laptop": (49999, 149999),
                "Gaming Laptop": (69999, 189999),
                "2-in-1 Laptop": (44999, 109999),
            },
            options="storage",
            blurbs=GADGET_BLURBS,
        ),
        _leaf(
            "Headphones",
            (("SoundWave Audio", 7), ("TechHaven", 3)),
            50,
            brands=("Sonora", "Bassline", "Aurora", "Sonic"),
            lines=("Pulse", "Echo", "Drift", "Studio", "Halo"),
            items={
                "ANC Wireless Headphones": (4999, 29999),
                "Over-Ear Headphones": (1999, 14999),
                "True Wireless Earbuds": (1299, 19999),
                "Sports Earbuds": (999, 5999),
                "Neckband Earphones": (799, 3999),
                "Wired Earphones": (399, 1999),
            },
            options="colour",
            blurbs=GADGET_BLURBS,
        ),
        _leaf(
            "Speakers",
            "SoundWave Audio",
            40,
            brands=("Boomix", "Bassline", "Sonora"),
            lines=("Beat", "Wave", "Arena", "Pocket", "Loft"),
            items={
                "Portable Bluetooth Speaker": (1499, 9999),
                "Waterproof Speaker": (1999, 11999),
                "Soundbar": (7999, 49999),
                "Party Speaker": (9999, 39999),
                "Smart Speaker": (3999, 19999),
            },
            options="colour",
            blurbs=GADGET_BLURBS,
        ),
        _leaf(
            "Cameras",
            "TechHaven",
            36,
            brands=("Optika", "Lumina", "Kairo"),
            lines=("Alpha", "Vista", "Snap", "Trek"),
            items={
                "Mirrorless Camera": (44999, 179999),
                "DSLR Camera": (39999, 149999),
                "Action Camera": (9999, 44999),
                "Instant Camera": (4999, 12999),
                "Vlogging Camera": (24999, 79999),
            },
            options="colour",
            blurbs=GADGET_BLURBS,
        ),
        _leaf(
            "Smart Watches",
            "TechHaven",
            40,
            brands=("Orbit", "Kairo", "Nova"),
            lines=("Fit", "Active", "Sport", "Classic", "Ultra"),
            items={
                "Smart Watch": (2999, 24999),
                "AMOLED Smart Watch": (3999, 34999),
                "GPS Smart Watch": (9999, 49999),
                "Fitness Band": (1499, 5999),
            },
            options="colour",
            blurbs=GADGET_BLURBS,
        ),
    ],
    "Fashion": [
        _leaf(
            "Men's Clothing",
            "Urban Threads",
            55,
            brands=("Northline", "Denimco", "Basics & Co"),
            lines=("Everyday", "Weekend", "Heritage", "Urban"),
            items={
                "Slim Fit Oxford Shirt": (999, 2999),
                "Linen Shirt": (1299, 3499),
                "Cotton Crew T-Shirt": (399, 1299),
                "Pique Polo T-Shirt": (599, 1799),
                "Slim Fit Chinos": (1199, 2999),
                "Straight Fit Jeans": (1299, 3999),
                "Fleece Hoodie": (1299, 3499),
                "Bomber Jacket": (2499, 5999),
            },
            options="size",
            blurbs=STYLE_BLURBS,
        ),
        _leaf(
            "Women's Clothing",
            "Urban Threads",
            55,
            brands=("Mira", "Denimco", "Basics & Co"),
            lines=("Everyday", "Weekend", "Studio", "Heritage"),
            items={
                "Floral Midi Dress": (1299, 3999),
                "Tiered Maxi Dress": (1499, 4999),
                "Cotton Kurta": (799, 2499),
                "Wrap Top": (699, 1999),
                "High-Rise Jeans": (1299, 3499),
                "Knit Cardigan": (1199, 3299),
                "Palazzo Pants": (799, 1999),
            },
            options="size",
            blurbs=STYLE_BLURBS,
        ),
        _leaf(
            "Footwear",
            "Urban Threads",
            45,
            brands=("Stride", "Trekker", "Northline"),
            lines=("Street", "Cloud", "Trail", "City"),
            items={
                "Running Shoes": (1999, 8999),
                "Canvas Sneakers": (999, 3499),
                "Leather Loafers": (1999, 5999),
                "Slip-On Sandals": (599, 1999),
                "Chelsea Boots": (2999, 7999),
            },
            options="shoe",
            blurbs=STYLE_BLURBS,
        ),
        _leaf(
            "Bags",
            "Urban Threads",
            35,
            brands=("Carryall", "Northline"),
            lines=("Metro", "Voyager", "Campus", "Weekend"),
            items={
                "Laptop Backpack": (1299, 4999),
                "Canvas Tote Bag": (599, 1999),
                "Crossbody Sling Bag": (799, 2999),
                "Duffel Bag": (1499, 4999),
                "Leather Wallet": (499, 2499),
            },
            options="colour",
            blurbs=STYLE_BLURBS,
        ),
        _leaf(
            "Watches",
            "Urban Threads",
            35,
            brands=("Chrono", "Mira", "Tempo"),
            lines=("Classic", "Marine", "Aviator", "Minimal"),
            items={
                "Analog Watch": (1499, 7999),
                "Chronograph Watch": (3999, 19999),
                "Leather Strap Watch": (1999, 9999),
                "Steel Bracelet Watch": (2999, 14999),
            },
            options="colour",
            blurbs=STYLE_BLURBS,
        ),
    ],
    "Home & Kitchen": [
        _leaf(
            "Furniture",
            "HomeNest",
            35,
            brands=("Woodcraft", "Casa"),
            lines=("Oslo", "Kyoto", "Jaipur", "Nordic", "Loft"),
            items={
                "Study Table": (4999, 14999),
                "Bookshelf": (3999, 12999),
                "Armchair": (7999, 24999),
                "Coffee Table": (3999, 14999),
                "Bedside Table": (2499, 7999),
                "TV Unit": (5999, 19999),
            },
            options="none",
            blurbs=HOME_BLURBS,
        ),
        _leaf(
            "Kitchen Appliances",
            "HomeNest",
            45,
            brands=("Chefmate", "Brewmaster", "Casa"),
            lines=("Pro", "Smart", "Compact", "Classic"),
            items={
                "Air Fryer": (3999, 12999),
                "Mixer Grinder": (2499, 7999),
                "Electric Kettle": (899, 2999),
                "Drip Coffee Maker": (2999, 9999),
                "Pop-Up Toaster": (1299, 3999),
                "Hand Blender": (1199, 3499),
            },
            options="none",
            blurbs=HOME_BLURBS,
        ),
        _leaf(
            "Cookware",
            "HomeNest",
            40,
            brands=("Chefmate", "Ironclad"),
            lines=("Classic", "Tri-Ply", "Granite", "Everyday"),
            items={
                "Non-Stick Frying Pan": (699, 2499),
                "Pressure Cooker": (1499, 4499),
                "Cast Iron Skillet": (999, 2999),
                "Kadai": (899, 2999),
                "Saucepan": (599, 1999),
                "Cookware Set": (2999, 8999),
            },
            options="none",
            blurbs=HOME_BLURBS,
        ),
        _leaf(
            "Decor",
            "HomeNest",
            40,
            brands=("Casa", "Lumen"),
            lines=("Terra", "Nordic", "Boho", "Heritage"),
            items={
                "Table Lamp": (999, 4999),
                "Floor Lamp": (2499, 8999),
                "Wall Clock": (699, 2999),
                "Ceramic Vase": (499, 2499),
                "Photo Frame Set": (399, 1499),
                "Scented Candle": (299, 1299),
            },
            options="colour",
            blurbs=HOME_BLURBS,
        ),
        _leaf(
            "Bedding",
            "HomeNest",
            35,
            brands=("Dreamweave", "Casa"),
            lines=("Cloud", "Percale", "Sateen", "Organic"),
            items={
                "Cotton Bedsheet Set": (999, 3999),
                "Comforter": (1999, 6999),
                "Memory Foam Pillow": (999, 2999),
                "Quilt": (1499, 4999),
                "Duvet Cover": (1299, 3999),
            },
            options="bed",
            blurbs=HOME_BLURBS,
        ),
    ],
    "Beauty": [
        _leaf(
            "Skincare",
            "Glow Beauty",
            45,
            brands=("Dewy", "Botanica", "Purely"),
            lines=("Vitamin C", "Hyaluronic", "Green Tea", "Niacinamide"),
            items={
                "Face Wash": (199, 699),
                "Moisturiser": (299, 999),
                "Face Serum": (399, 1499),
                "Sunscreen": (299, 899),
                "Night Cream": (399, 1299),
            },
            options="volume",
            blurbs=CARE_BLURBS,
        ),
        _leaf(
            "Makeup",
            "Glow Beauty",
            45,
            brands=("Velvet", "Dewy", "Mira"),
            lines=("Matte", "Satin", "Glow", "Stay-On"),
            items={
                "Liquid Lipstick": (299, 999),
                "Kajal": (149, 499),
                "Foundation": (499, 1999),
                "Compact Powder": (249, 899),
                "Mascara": (299, 1199),
                "Eyeliner": (199, 699),
            },
            options="shade",
            blurbs=CARE_BLURBS,
        ),
        _leaf(
            "Fragrances",
            "Glow Beauty",
            40,
            brands=("Essence", "Noir", "Aurum"),
            lines=("Oud", "Citrus", "Amber", "Ocean", "Rose"),
            items={"Eau de Parfum": (1499, 5999), "Body Mist": (299, 999), "Deodorant": (199, 499)},
            options="volume",
            blurbs=CARE_BLURBS,
        ),
        _leaf(
            "Hair Care",
            "Glow Beauty",
            36,
            brands=("Botanica", "Silken"),
            lines=("Argan", "Keratin", "Coconut", "Hibiscus", "Tea Tree"),
            items={"Shampoo": (199, 799), "Conditioner": (199, 799), "Hair Oil": (149, 599), "Hair Mask": (299, 999)},
            options="volume",
            blurbs=CARE_BLURBS,
        ),
    ],
    "Sports & Fitness": [
        _leaf(
            "Fitness Equipment",
            "FitFuel Sports",
            40,
            brands=("Ironfit", "Flexa"),
            lines=("Home", "Pro", "Core", "Studio"),
            items={
                "Dumbbell Set": (1499, 7999),
                "Yoga Mat": (499, 1999),
                "Resistance Bands": (399, 1499),
                "Kettlebell": (999, 3999),
                "Skipping Rope": (199, 799),
                "Foam Roller": (499, 1499),
            },
            options="none",
            blurbs=SPORT_BLURBS,
        ),
        _leaf(
            "Sportswear",
            "FitFuel Sports",
            45,
            brands=("Flexa", "Stride", "Ironfit"),
            lines=("Dry-Fit", "Training", "Active", "Run"),
            items={
                "Track Pants": (699, 2499),
                "T-Shirt": (399, 1499),
                "Sports Bra": (499, 1799),
                "Running Shorts": (499, 1499),
                "Training Jacket": (1499, 3999),
            },
            options="size",
            blurbs=SPORT_BLURBS,
        ),
        _leaf(
            "Cycling",
            "FitFuel Sports",
            30,
            brands=("Velo", "Trekker"),
            lines=("Ridge", "Sprint", "Trail", "Commuter"),
            items={
                "Mountain Bike": (14999, 49999),
                "Hybrid Bike": (12999, 34999),
                "Cycling Helmet": (999, 3999),
                "Bike Light Set": (499, 1999),
                "Cycling Gloves": (399, 1299),
            },
            options="none",
            blurbs=SPORT_BLURBS,
        ),
        _leaf(
            "Nutrition",
            "FitFuel Sports",
            40,
            brands=("Fuelup", "Pureform"),
            lines=("Performance", "Lean", "Everyday", "Gold"),
            items={
                "Whey Protein": (1999, 5999),
                "Plant Protein": (1799, 4999),
                "Protein Bar Box": (599, 1499),
                "Electrolyte Drink Mix": (399, 999),
                "Creatine Monohydrate": (699, 1799),
                "Peanut Butter": (299, 799),
            },
            options="flavour",
            blurbs=SPORT_BLURBS,
        ),
    ],
    "Books": [
        _leaf(
            "Fiction",
            "Bookworm Books",
            45,
            brands=("Pinewood House", "Harbour Press", "Inkwell"),
            items={"": (249, 899)},
            options="format",
            templates=(
                (
                    "The {adjective} {noun}",
                    {
                        "adjective": ("Silent", "Hidden", "Last", "Midnight", "Crimson", "Forgotten", "Paper", "Glass"),
                        "noun": ("Harbour", "Orchard", "Letter", "Garden", "Lighthouse", "Kingdom", "River"),
                    },
                ),
                (
                    "{noun} of the {place}",
                    {
                        "noun": ("Daughters", "Ghosts", "Songs", "Secrets", "Keepers"),
                        "place": ("Monsoon", "Hills", "Old City", "Salt Marsh", "Northern Sea"),
                    },
                ),
            ),
            blurbs=BOOK_BLURBS,
        ),
        _leaf(
            "Non-fiction",
            "Bookworm Books",
            42,
            brands=("Harbour Press", "Insight", "Pinewood House"),
            items={"": (299, 1299)},
            options="format",
            templates=(
                (
                    "The Art of {skill}",
                    {
                        "skill": (
                            "Focus",
                            "Slow Living",
                            "Public Speaking",
                            "Saving Money",
                            "Simple Cooking",
                            "Deep Work",
                            "Listening",
                            "Starting Over",
                            "Negotiation",
                            "Rest",
                        )
                    },
                ),
                (
                    "{topic}: A Short History",
                    {
                        "topic": (
                            "Spices",
                            "Tea",
                            "Cricket",
                            "The Railways",
                            "Cotton",
                            "Mathematics",
                            "The Monsoon",
                            "Maps",
                            "Salt",
                            "Cinema",
                            "Printing",
                            "Ports",
                        )
                    },
                ),
                (
                    "A Field Guide to {thing}",
                    {
                        "thing": (
                            "Garden Birds",
                            "Mushrooms",
                            "Night Skies",
                            "Trees",
                            "Butterflies",
                            "Seashells",
                            "Wild Flowers",
                            "Clouds",
                            "Rocks and Minerals",
                            "Pond Life",
                        )
                    },
                ),
                (
                    "Notes on {theme}",
                    {
                        "theme": (
                            "Happiness",
                            "Grief",
                            "Ambition",
                            "Friendship",
                            "Home",
                            "Work",
                            "Travel",
                            "Memory",
                            "Courage",
                            "Cities",
                        )
                    },
                ),
            ),
            blurbs=BOOK_BLURBS,
        ),
        _leaf(
            "Children's Books",
            "Bookworm Books",
            40,
            brands=("Little Owl", "Pinewood House"),
            items={"": (149, 699)},
            options="format",
            templates=(
                (
                    "{name} the {adjective} {animal}",
                    {
                        "name": ("Milo", "Tara", "Kiki", "Bruno", "Zoya"),
                        "adjective": ("Brave", "Sleepy", "Curious", "Tiny"),
                        "animal": ("Elephant", "Tiger", "Owl", "Fox"),
                    },
                ),
                ("Goodnight, Little {animal}", {"animal": ("Fox", "Owl", "Panda", "Otter", "Rabbit", "Tiger")}),
            ),
            blurbs=BOOK_BLURBS,
        ),
    ],
    "Grocery": [
        _leaf(
            "Snacks",
            "DailyBasket",
            40,
            brands=("Nutty", "Harvest", "Crunchy"),
            lines=("Roasted", "Masala", "Honey", "Lightly Salted"),
            items={
                "Almonds": (299, 899),
                "Cashews": (349, 999),
                "Potato Chips": (49, 149),
                "Trail Mix": (199, 599),
                "Makhana": (149, 449),
                "Peanuts": (79, 249),
            },
            options="pack",
            blurbs=PANTRY_BLURBS,
        ),
        _leaf(
            "Beverages",
            "DailyBasket",
            41,
            brands=("Leafy", "Brewmaster", "Chai Co"),
            lines=("Assam", "Darjeeling", "Nilgiri", "Coorg", "Kerala"),
            items={
                "Green Tea": (199, 599),
                "Black Tea": (149, 499),
                "Filter Coffee": (249, 799),
                "Cold Brew Coffee": (299, 899),
                "Masala Chai": (149, 449),
            },
            options="pack",
            blurbs=PANTRY_BLURBS,
        ),
    ],
}
PRODUCT_COUNT = sum(leaf.count for leaves in CATALOG.values() for leaf in leaves)

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
# Price step from one option to the next (more storage costs more, a bigger pack too; sizes cost the same).
OPTION_STEPS: dict[str, list[int]] = {
    "storage": [3000, 5000, 8000],
    "format": [150, 250],
    "pack": [80, 150, 250],
    "volume": [100, 200],
    "bed": [300, 500],
}
MATERIALS: dict[str, list[str]] = {
    "size": ["cotton", "linen", "cotton blend", "polyester"],
    "bed": ["cotton", "microfibre", "bamboo"],
}


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    # Prices end in 9 as shops like them: 1,499.00 rather than 1,503.00.
    value = rng.randint(low // 10, high // 10) * 10 + 9
    return Decimal(value).quantize(Decimal("0.01"))


def _sku_prefix(merchant_name: str) -> str:
    return re.sub(r"[^A-Z]", "", merchant_name.upper())[:4]


def _titles(leaf: Leaf, rng: random.Random, taken: set[str]) -> list[dict[str, str]]:
    """``leaf.count`` distinct titles with their brand and product type, none whose slug is ``taken``."""
    combos: list[dict[str, str]] = []
    for pattern, pools in leaf.patterns():
        names = list(pools)
        for words in itertools.product(*(pools[name] for name in names)):
            combos.append({"pattern": pattern, **dict(zip(names, words, strict=True))})
    rng.shuffle(combos)
    chosen: list[dict[str, str]] = []
    for combo in combos:
        title = " ".join(combo["pattern"].format(**combo).split())
        slug = slugify(title)
        if slug in taken:
            continue
        taken.add(slug)
        brand = combo.get("brand") or rng.choice(leaf.brands)
        chosen.append(
            {"title": title, "slug": slug, "brand": brand, "line": combo.get("line", ""), "item": combo.get("item", "")}
        )
        if len(chosen) == leaf.count:
            return chosen
    raise ValueError(f"Not enough title combinations for {leaf.name}: {len(chosen)} of {leaf.count}.")


def _variants(rng: random.Random, base_price: Decimal, option_kind: str) -> list[dict[str, Any]]:
    options = OPTIONS[option_kind]
    chosen = list(options) if len(options) == 1 else rng.sample(options, rng.randint(1, len(options)))
    chosen.sort(key=options.index)
    steps = OPTION_STEPS.get(option_kind, [0])
    variants = []
    price = base_price
    for index, option in enumerate(chosen):
        if index:
            price += Decimal(steps[min(index - 1, len(steps) - 1)])
        on_hand = 0 if rng.random() < 0.12 else rng.randint(1, 60)
        variants.append(
            {
                "options": option,
                "price": price,
                "compare_at_price": (price * Decimal("1.25")).quantize(Decimal("1")) if rng.random() < 0.4 else None,
                "stock_on_hand": on_hand,
                "stock_allocated": rng.randint(0, on_hand // 4) if on_hand else 0,
            }
        )
    return variants


def _description(leaf: Leaf, product: dict[str, str], rng: random.Random) -> str:
    if not product["item"]:
        return f"{product['title']}, published by {product['brand']}. {rng.choice(leaf.blurbs)}"
    return (
        f"{product['item']} from the {product['brand']} {product['line']} range, in our "
        f"{leaf.name.lower()} collection. {rng.choice(leaf.blurbs)}"
    )


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return ProductStatus.DRAFT
    if roll < 0.08:
        return ProductStatus.ARCHIVED
    return ProductStatus.ACTIVE


def _plan(merchants: dict[str, Merchant], categories: dict[str, Category]) -> list[dict[str, Any]]:
    """The full deterministic list of demo products, whatever already exists."""
    rng = random.Random(SEED)  # noqa: S311  (deterministic demo data, not security)
    taken: set[str] = set()
    plan: list[dict[str, Any]] = []
    for leaves in CATALOG.values():
        for leaf in leaves:
            owners, weights = zip(*leaf.merchants, strict=True)
            for product in _titles(leaf, rng, taken):
                low, high = leaf.items[product["item"]]
                merchant = merchants[rng.choices(owners, weights=weights)[0]]
                material = rng.choice(MATERIALS[leaf.options]) if leaf.options in MATERIALS else None
                plan.append(
                    {
                        **product,
                        "number": len(plan) + 1,
                        "merchant": merchant,
                        "category": categories[leaf.name],
                        "status": _status(rng),
                        # Heavy-tailed, as real popularity is: a few bestsellers, a long tail.
                        "popularity": min(5000, int(20 * rng.paretovariate(1.2))),
                        "description": _description(leaf, product, rng),
                        "attributes": {"material": material} if material else {},
                        "variants": _variants(rng, _price(rng, low, high), leaf.options),
                    }
                )
    return plan


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
        Category(name=leaf.name, slug=slugify(leaf.name), parent=roots[root], position=position)
        for root, leaves in CATALOG.items()
        for position, leaf in enumerate(leaves)
        if slugify(leaf.name) not in existing
    ]
    Category.objects.bulk_create(children)
    slugs = [slugify(leaf.name) for leaves in CATALOG.values() for leaf in leaves]
    return {category.name: category for category in Category.objects.filter(slug__in=slugs)}


def seed(*, stdout) -> None:
    merchants = _seed_merchants()
    categories = _seed_categories()
    plan = _plan(merchants, categories)

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
        prefix = _sku_prefix(item["merchant"].name)
        for index, spec in enumerate(item["variants"]):
            variants.append(
                ProductVariant(product_id=product_id, sku=f"{prefix}-{item['number']:04d}-{index + 1}", **spec)
            )
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
    # Explicit, so the columns are right whether or not anything reacts to the inserts.
    services.products_refresh_denormalized(product_ids=ids.values())
    if created:
        services.catalog_invalidate_all()
    stdout.write(
        f"Catalog: {len(merchants)} merchants, {len(categories) + len(CATALOG)} categories, "
        f"{len(created)} new products ({len(variants)} variants); "
        f"{len(existing)} products were already there."
    )

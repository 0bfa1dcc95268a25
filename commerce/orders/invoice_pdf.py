"""Drawing an invoice as a PDF with reportlab (A4, Helvetica). Called by :mod:`commerce.orders.services.invoices`,
which numbers and stores the invoice; this module only draws.

The invoice shows the seller (settings ``INVOICE_SELLER_NAME``, ``INVOICE_SELLER_ADDRESS``,
``INVOICE_SELLER_TAX_ID``) and the merchant the order was placed with, the invoice and order numbers and dates
(India Standard Time), the buyer (the order's shipping address, email and phone as snapshotted at checkout), each
line (title, SKU, quantity, unit price, discount, tax rate, tax, amount paid for it), a tax breakdown per rate (the
taxable value, i.e. the amount without tax, and the tax; shipping's tax on a row of its own), and the totals in the
order's currency. Prices include tax, so the lines' amounts add up to the total with shipping; the tax is the part
of them that is tax. Tax is shown as one amount per rate (not split into CGST/SGST or IGST).

**Non-Latin text.** reportlab's built-in fonts draw only Windows-1252 (Western European) characters, and reportlab
does not shape Indic scripts (a bundled Devanagari font would draw vowel signs in the wrong place), so every
piece of text goes through :func:`pdf_text` first: the nine Indic scripts of Unicode (Devanagari, Bengali,
Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam; their blocks share one layout) are transliterated to
plain Latin letters (``आशा राव`` becomes ``Aashaa Raav``), other letters lose their accents when they are not in
Windows-1252, and anything still not drawable becomes ``?``. The order itself keeps the text as typed.

Output is deterministic for the same input (reportlab's ``invariant`` mode: no creation time or random document
id), so a re-drawn invoice is byte-for-byte the same.
"""

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from commerce.core.money import quantize

INDIA = ZoneInfo("Asia/Kolkata")

# --- text that the built-in fonts can draw -------------------------------------------------------------------

# Offsets within a 128-code-point Indic block (Devanagari U+0900, Bengali U+0980, ..., Malayalam U+0D00).
_INDIC_BLOCKS = range(0x0900, 0x0D80)
_INDEPENDENT_VOWELS = {
    0x04: "a", 0x05: "a", 0x06: "aa", 0x07: "i", 0x08: "ii", 0x09: "u", 0x0A: "uu", 0x0B: "ri", 0x0C: "li",
    0x0D: "e", 0x0E: "e", 0x0F: "e", 0x10: "ai", 0x11: "o", 0x12: "o", 0x13: "o", 0x14: "au", 0x60: "rri",
    0x61: "lli", 0x72: "", 0x73: "",
}  # fmt: skip
_CONSONANTS = {
    0x15: "k", 0x16: "kh", 0x17: "g", 0x18: "gh", 0x19: "n", 0x1A: "ch", 0x1B: "chh", 0x1C: "j", 0x1D: "jh",
    0x1E: "ny", 0x1F: "t", 0x20: "th", 0x21: "d", 0x22: "dh", 0x23: "n", 0x24: "t", 0x25: "th", 0x26: "d",
    0x27: "dh", 0x28: "n", 0x29: "n", 0x2A: "p", 0x2B: "ph", 0x2C: "b", 0x2D: "bh", 0x2E: "m", 0x2F: "y",
    0x30: "r", 0x31: "r", 0x32: "l", 0x33: "l", 0x34: "zh", 0x35: "v", 0x36: "sh", 0x37: "sh", 0x38: "s",
    0x39: "h", 0x58: "q", 0x59: "kh", 0x5A: "gh", 0x5B: "z", 0x5C: "r", 0x5D: "rh", 0x5E: "f", 0x5F: "y",
}  # fmt: skip
_VOWEL_SIGNS = {
    0x3E: "aa", 0x3F: "i", 0x40: "ii", 0x41: "u", 0x42: "uu", 0x43: "ri", 0x44: "rri", 0x45: "e", 0x46: "e",
    0x47: "e", 0x48: "ai", 0x49: "o", 0x4A: "o", 0x4B: "o", 0x4C: "au", 0x4F: "aw", 0x56: "ai", 0x57: "au",
    0x62: "li", 0x63: "lli",
}  # fmt: skip
_VIRAMA = 0x4D
_NUKTA = 0x3C
_LABIALS = {0x2A, 0x2B, 0x2C, 0x2D, 0x2E}
_SIGNS = {0x01: "n", 0x03: "h", 0x3D: "'", 0x50: "om", 0x64: ".", 0x65: ".", 0x70: "n", 0x4E: "t"}
_CHILLU = {0x7A: "n", 0x7B: "n", 0x7C: "r", 0x7D: "l", 0x7E: "l", 0x7F: "k"}  # Malayalam
_DIGITS = range(0x66, 0x70)
# Devanagari, Gurmukhi and Gujarati drop the inherent vowel at the end of a word (राम is "Raam", not "Raama").
_SCHWA_DELETING = {0x0900, 0x0A00, 0x0A80}


def _indic(ch: str) -> tuple[int, int] | None:
    """``(block start, offset)`` of an Indic character, or ``None``."""
    code = ord(ch)
    if code not in _INDIC_BLOCKS:
        return None
    return code & ~0x7F, code & 0x7F


def _offset(ch: str) -> int | None:
    found = _indic(ch)
    return None if found is None else found[1]


def _transliterate_indic(text: str) -> str:
    out: list[str] = []
    chars = list(text)
    i = 0
    while i < len(chars):
        found = _indic(chars[i])
        if found is None:
            out.append(chars[i])
            i += 1
            continue
        block, offset = found
        if offset in _CONSONANTS:
            out.append(_CONSONANTS[offset])
            j = i + 1
            while j < len(chars) and (_offset(chars[j]) == _NUKTA or chars[j] in "\u200c\u200d"):
                j += 1
            following = _indic(chars[j]) if j < len(chars) else None
            if following is not None and following[1] in _VOWEL_SIGNS:
                out.append(_VOWEL_SIGNS[following[1]])
                j += 1
            elif following is not None and following[1] == _VIRAMA:
                j += 1
            elif following is None and block in _SCHWA_DELETING:
                pass  # word-final: no inherent vowel
            else:
                out.append("a")
            i = j
            continue
        if offset == 0x02:  # anusvara: m before p, b, m; n elsewhere
            nxt = _indic(chars[i + 1]) if i + 1 < len(chars) else None
            out.append("m" if nxt is not None and nxt[1] in _LABIALS else "n")
        elif offset in _DIGITS:
            out.append(str(offset - 0x66))
        else:
            out.append(
                _INDEPENDENT_VOWELS.get(offset)
                or _VOWEL_SIGNS.get(offset)
                or _SIGNS.get(offset)
                or _CHILLU.get(offset)
                or ""
            )
        i += 1
    return "".join(out)


def _capitalise_transliterated(original: str, text: str) -> str:
    """Capitalise the words that came from an Indic script (they have no case of their own)."""
    if not any(_indic(ch) for ch in original):
        return text
    return " ".join(word[:1].upper() + word[1:] if word else word for word in text.split(" "))


# Latin letters with a stroke have no decomposition; their base letters.
_STROKED = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "Ŧ": "T", "ŧ": "t"}
)


def _drawable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return unicodedata.category(ch)[0] != "C"


def pdf_text(text: str) -> str:
    """``text`` in characters the built-in fonts can draw (Windows-1252): Indic scripts transliterated, accents
    dropped where the accented letter cannot be drawn, control characters removed, anything else ``?``."""
    text = unicodedata.normalize("NFC", text or "").translate(_STROKED)
    if any(_indic(ch) for ch in text):
        text = _capitalise_transliterated(text, _transliterate_indic(text))
    out: list[str] = []
    for ch in text:
        if _drawable(ch):
            out.append(ch)
            continue
        if unicodedata.category(ch) in {"Cc", "Cf"}:
            continue
        # A letter outside Windows-1252 may be an accented one whose base letter is drawable (ź: z); a symbol
        # keeps its meaning only whole (≠ is not =).
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        letter = unicodedata.category(ch).startswith("L")
        out.append(base if letter and base and all(_drawable(c) for c in base) else "?")
    return "".join(out)


# --- the document --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seller:
    name: str
    address: str
    tax_id: str


@dataclass(frozen=True)
class InvoiceLine:
    title: str
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    tax: Decimal
    amount: Decimal  # what was paid for the line: line total less its discount (tax included)


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed, already worked out by the invoices service."""

    number: str
    issued_at: datetime
    order_number: str
    placed_at: datetime
    currency: str
    seller: Seller
    merchant: str
    buyer_address: dict[str, str]
    buyer_email: str
    buyer_phone: str
    lines: Sequence[InvoiceLine]
    subtotal: Decimal
    coupon_code: str
    discount: Decimal
    adjustments: Sequence[tuple[str, Decimal]]
    shipping: Decimal
    shipping_tax: Decimal
    tax: Decimal
    total: Decimal


def _date(moment: datetime) -> str:
    return moment.astimezone(INDIA).strftime("%d %b %Y")


def _amount(value: Decimal, currency: str) -> str:
    return f"{quantize(value, currency):f}"


def _rate(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def tax_breakdown(document: InvoiceDocument) -> list[tuple[str, Decimal, Decimal]]:
    """``[(label, taxable value, tax)]``: one row per tax rate of the lines (lowest rate first), then shipping's."""
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in document.lines:
        taxable, tax = by_rate.get(line.tax_rate, (Decimal("0"), Decimal("0")))
        by_rate[line.tax_rate] = (taxable + line.amount - line.tax, tax + line.tax)
    rows = [(_rate(rate), taxable, tax) for rate, (taxable, tax) in sorted(by_rate.items())]
    if document.shipping > 0:
        rows.append(("Shipping", document.shipping - document.shipping_tax, document.shipping_tax))
    return rows


def invoice_pdf_render(document: InvoiceDocument) -> bytes:
    """The invoice as PDF bytes."""
    styles = getSampleStyleSheet()
    body = ParagraphStyle("invoice-body", parent=styles["Normal"], fontName="Helvetica", fontSize=8.5, leading=11)
    small = ParagraphStyle("invoice-small", parent=body, fontSize=7.5, leading=9)
    right = ParagraphStyle("invoice-right", parent=body, alignment=TA_RIGHT)
    title = ParagraphStyle("invoice-title", parent=styles["Title"], fontName="Helvetica-Bold", fontSize=16)
    heading = ParagraphStyle("invoice-heading", parent=body, fontName="Helvetica-Bold", fontSize=9.5, leading=13)
    cur = document.currency

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(escape(pdf_text(part)) for part in text.split("\n")), style)

    def money(value: Decimal) -> str:
        return _amount(value, cur)

    seller = document.seller
    address = document.buyer_address
    phone = address.get("phone") or document.buyer_phone
    buyer_lines = [
        address.get("name", ""),
        address.get("line1", ""),
        address.get("line2", ""),
        " ".join(part for part in (address.get("city", ""), address.get("postal_code", "")) if part),
        ", ".join(part for part in (address.get("state", ""), address.get("country", "")) if part),
        f"Phone: {phone}" if phone else "",
        f"Email: {document.buyer_email}" if document.buyer_email else "",
    ]
    parties = Table(
        [
            [para("Seller", heading), para("Invoice", heading)],
            [
                para(f"{seller.name}\n{seller.address}\nGSTIN: {seller.tax_id}\nMerchant: {document.merchant}"),
                para(
                    f"Invoice number: {document.number}\nInvoice date: {_date(document.issued_at)}\n"
                    f"Order number: {document.order_number}\nOrder date: {_date(document.placed_at)}\n"
                    f"Currency: {cur}"
                ),
            ],
            [para("Bill to / Ship to", heading), ""],
            [para("\n".join(line for line in buyer_lines if line)), ""],
        ],
        colWidths=[95 * mm, 89 * mm],
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))

    header = ["#", "Item", "SKU", "Qty", "Unit price", "Discount", "Tax rate", "Tax", "Amount"]
    rows: list[list[object]] = [list(header)]
    for index, line in enumerate(document.lines, start=1):
        rows.append(
            [
                str(index),
                para(line.title, small),
                para(line.sku, small),
                str(line.quantity),
                money(line.unit_price),
                money(line.discount),
                _rate(line.tax_rate),
                money(line.tax),
                money(line.amount),
            ]
        )
    lines_table = Table(
        rows, colWidths=[7 * mm, 52 * mm, 26 * mm, 10 * mm, 19 * mm, 18 * mm, 15 * mm, 17 * mm, 20 * mm], repeatRows=1
    )
    lines_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
            ]
        )
    )

    breakdown_rows: list[list[object]] = [["Tax rate", "Taxable value", "Tax"]]
    for label, taxable, tax in tax_breakdown(document):
        breakdown_rows.append([label, money(taxable), money(tax)])
    breakdown = Table(breakdown_rows, colWidths=[30 * mm, 30 * mm, 25 * mm], hAlign="LEFT")
    breakdown.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
            ]
        )
    )

    totals_rows: list[list[str]] = [["Subtotal", money(document.subtotal)]]
    if document.discount > 0:
        label = f"Coupon {document.coupon_code}" if document.coupon_code else "Discount"
        totals_rows.append([pdf_text(label), f"-{money(document.discount)}"])
    for label, amount in document.adjustments:
        totals_rows.append([pdf_text(label), f"-{money(amount)}"])
    totals_rows += [
        ["Shipping", money(document.shipping)],
        [f"Total ({cur})", money(document.total)],
        ["Tax included in total", money(document.tax)],
    ]
    total_row = len(totals_rows) - 2
    totals = Table(totals_rows, colWidths=[45 * mm, 30 * mm], hAlign="RIGHT")
    totals.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
                ("FONT", (0, total_row), (-1, total_row), "Helvetica-Bold", 9.5),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, total_row), (-1, total_row), 0.75, colors.black),
            ]
        )
    )

    footer = f"Invoice {pdf_text(document.number)}"

    def page_footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(A4[0] - 13 * mm, 8 * mm, f"{footer}, page {canvas.getPageNumber()}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=13 * mm,
        rightMargin=13 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Invoice {document.number}",
        author=pdf_text(seller.name),
        invariant=1,
    )
    doc.build(
        [
            Paragraph("Tax Invoice", title),
            parties,
            Spacer(1, 6 * mm),
            lines_table,
            Spacer(1, 5 * mm),
            totals,
            Spacer(1, 5 * mm),
            para("Tax breakdown", heading),
            breakdown,
            Spacer(1, 8 * mm),
            para("Prices include tax. This invoice was generated by computer and needs no signature.", small),
            para(f"{seller.name}, {seller.address}", right),
        ],
        onFirstPage=page_footer,
        onLaterPages=page_footer,
    )
    return buffer.getvalue()

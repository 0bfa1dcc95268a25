"""``GET orders/{number}/invoice``: the PDF invoice of the signed-in shopper's paid order.

Answers ``application/pdf`` (inline, named after the invoice number, e.g. ``INV-2026-27-000001.pdf``). Errors
are the usual JSON error shape whatever the ``Accept`` header says (a client asking for ``application/pdf``
still reads a 404 or 409 as JSON, never a 406). The first request issues the invoice; see
:mod:`commerce.orders.services.invoices`.
"""

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..services.invoices import invoice_file_name, invoice_for_shopper, invoice_open


class JSONErrorsNegotiation(BaseContentNegotiation):
    """Always JSON: the success answer is a file response that no renderer touches, so the renderer only ever
    renders errors, and those are JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class InvoiceView(APIView):
    """The invoice of one of your paid orders (payment status paid, partially refunded or refunded), as a PDF:
    issued on the first request, the same stored file afterwards."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation
    error_responses = {409: "invoice_unavailable: the order is not paid."}

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The invoice (PDF)."),
        }
    )
    def get(self, request: Request, number: str) -> FileResponse:
        invoice = invoice_for_shopper(user=signed_in(request), number=number)
        return FileResponse(
            invoice_open(invoice=invoice),
            content_type="application/pdf",
            filename=invoice_file_name(invoice),
            as_attachment=False,
        )

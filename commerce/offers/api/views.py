"""Public offer endpoints. All are open to anonymous shoppers; a signed-in shopper's clicks carry their id.

Only live offers of active merchants exist here: anything else (unknown, draft, paused, not started, ended)
is a 404. The list and trending are cached briefly (``commerce.offers.cache``); the detail is not, because
each request counts a view.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.core.client_ip import client_ip_or_none

from .. import cache
from ..models import Offer
from ..selectors import TRENDING_WINDOW_DAYS, public_offer, public_offers, trending_offers
from ..services import offer_click_record, offer_view_record
from .serializers import (
    ClickResponseSerializer,
    OfferDetailSerializer,
    OfferListQuerySerializer,
    OfferSerializer,
    TrendingOfferSerializer,
    TrendingResponseSerializer,
)


def _not_found() -> NotFound:
    return NotFound("No such offer.")


class OfferListView(generics.ListAPIView):
    """Live offers of active merchants, newest first; with ``expiring_within_days``, soonest ending first."""

    permission_classes = [AllowAny]
    serializer_class = OfferSerializer
    filter_backends: list = []

    @extend_schema(parameters=[OfferListQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        query = OfferListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.filters = query.validated_data
        key_params = {
            **{name: str(value) for name, value in self.filters.items()},
            "page": request.query_params.get("page", ""),
            "page_size": request.query_params.get("page_size", ""),
            "host": request.get_host(),
        }
        data = cache.cached(cache.key("list", key_params), cache.LIST_TTL, lambda: self.list(request).data)
        return Response(data)

    def get_queryset(self):
        return public_offers(
            merchant_slug=self.filters.get("merchant"),
            kind=self.filters.get("kind"),
            expiring_within_days=self.filters.get("expiring_within_days"),
        )


class OfferTrendingView(APIView):
    """The most active live offers of the last 7 days: clicks weigh 5, views 1, and a day's events count half
    as much every 2 days. At most 20, highest score first."""

    permission_classes = [AllowAny]

    @extend_schema(responses=TrendingResponseSerializer)
    def get(self, request: Request) -> Response:
        def build() -> dict:
            return {
                "window_days": TRENDING_WINDOW_DAYS,
                "results": list(TrendingOfferSerializer(trending_offers(), many=True).data),
            }

        return Response(cache.cached(cache.key("trending"), cache.TRENDING_TTL, build))


class OfferDetailView(APIView):
    """One live offer. Each request counts a view."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OfferDetailSerializer, 404: OpenApiResponse(description="Unknown or not live.")})
    def get(self, request: Request, pk: int) -> Response:
        offer = public_offer(offer_id=pk)
        if offer is None:
            raise _not_found()
        offer_view_record(offer_id=offer.pk)
        return Response(OfferDetailSerializer(offer).data)


class OfferClickView(APIView):
    """Record a click through to the merchant: answers the destination URL with a new ``click_id`` in it.
    The click id comes back with the merchant's sale report, which ties the sale to this click."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=None,
        responses={
            201: ClickResponseSerializer,
            404: OpenApiResponse(description="Unknown or not live."),
            409: OpenApiResponse(description="The offer has nowhere to go (offer_no_destination)."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        offer = Offer.objects.listed().select_related("merchant").filter(pk=pk).first()
        if offer is None:
            raise _not_found()
        user_id = request.user.pk if request.user and request.user.is_authenticated else None
        click = offer_click_record(offer=offer, user_id=user_id, ip=client_ip_or_none(request))
        body = ClickResponseSerializer({"offer_id": click.offer_id, "click_id": click.click_id, "url": click.url})
        return Response(body.data, status=status.HTTP_201_CREATED)

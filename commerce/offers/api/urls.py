from django.urls import path

from .views import OfferClickView, OfferDetailView, OfferListView, OfferTrendingView

urlpatterns = [
    path("offers", OfferListView.as_view(), name="offer-list"),
    path("offers/trending", OfferTrendingView.as_view(), name="offer-trending"),
    path("offers/<int:pk>", OfferDetailView.as_view(), name="offer-detail"),
    path("offers/<int:pk>/click", OfferClickView.as_view(), name="offer-click"),
]

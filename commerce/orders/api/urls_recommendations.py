"""Routes of the recommendations endpoints."""

from django.urls import path

from .recommendations import ProductRecommendationsView

urlpatterns = [
    path(
        "products/<slug:slug>/recommendations",
        ProductRecommendationsView.as_view(),
        name="product-recommendations",
    ),
]

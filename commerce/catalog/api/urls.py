from django.urls import path

from . import views

urlpatterns = [
    path("categories", views.CategoryTreeView.as_view(), name="category-tree"),
    path("merchants", views.MerchantListView.as_view(), name="merchant-list"),
    path("merchants/<slug:slug>", views.MerchantDetailView.as_view(), name="merchant-detail"),
    path("products", views.ProductListView.as_view(), name="product-list"),
    path("products/<slug:slug>", views.ProductDetailView.as_view(), name="product-detail"),
    path("search", views.SearchView.as_view(), name="search"),
    path("search/autocomplete", views.AutocompleteView.as_view(), name="search-autocomplete"),
    path("me/saved-searches", views.SavedSearchListView.as_view(), name="saved-search-list"),
    path("me/saved-searches/<int:pk>", views.SavedSearchDetailView.as_view(), name="saved-search-detail"),
]

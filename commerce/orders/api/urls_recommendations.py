"""Routes of the recommendations endpoints."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

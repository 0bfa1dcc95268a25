"""Routes of the addresses endpoints."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

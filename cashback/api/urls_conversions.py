"""Route of the merchants' signed conversion reports (``cashback/conversions``): no JWT, the signature is the
credential."""

from django.urls import URLPattern, path

from .conversions import ConversionReportView

urlpatterns: list[URLPattern] = [
    path("cashback/conversions", ConversionReportView.as_view(), name="cashback-conversions"),
]

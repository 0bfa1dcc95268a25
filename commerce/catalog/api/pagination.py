"""Pagination for search: the total is already known from the facet query, so no separate COUNT is run."""

from functools import partial

from django.core.paginator import Paginator

from commerce.core.api.pagination import StandardPagination


class _KnownCountPaginator(Paginator):
    def __init__(self, object_list, per_page, *, count: int, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count  # pre-fills the cached_property


class KnownCountPagination(StandardPagination):
    def paginate_queryset_with_count(self, queryset, request, *, count: int, view=None):
        self.django_paginator_class = partial(_KnownCountPaginator, count=count)  # type: ignore[assignment]
        return self.paginate_queryset(queryset, request, view)

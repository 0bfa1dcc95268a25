import pytest

from commerce.catalog.models import SavedSearch
from commerce.catalog.services import MAX_SAVED_SEARCHES_PER_USER
from tests.catalog.factories import CategoryFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/saved-searches"


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def client_for(api_client):
    def as_user(user):
        api_client.force_authenticate(user)
        return api_client

    return as_user


def test_anonymous_users_have_no_saved_searches(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"name": "x"}, format="json").status_code == 401


def test_create_list_and_delete(client_for, user):
    CategoryFactory(slug="audio")
    client = client_for(user)

    created = client.post(
        URL,
        {
            "name": "Cheap audio",
            "params": {"q": "headphones", "category": "audio", "max_price": "1999.5", "in_stock": True},
        },
        format="json",
    )

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Cheap audio"
    assert body["params"] == {"q": "headphones", "category": "audio", "max_price": "1999.50", "in_stock": True}
    assert body["query_string"] == "q=headphones&category=audio&max_price=1999.50&in_stock=true"

    listed = client.get(URL).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == body["id"]

    assert client.delete(f"{URL}/{body['id']}").status_code == 204
    assert SavedSearch.objects.count() == 0
    assert client.delete(f"{URL}/{body['id']}").status_code == 404


def test_a_saved_search_with_no_params(client_for, user):
    response = client_for(user).post(URL, {"name": "Everything"}, format="json")
    assert response.status_code == 201
    assert response.json()["params"] == {}


def test_another_users_saved_search_is_invisible_and_a_404(client_for, user):
    other = UserFactory()
    theirs = SavedSearch.objects.create(user=other, name="Theirs", params={"q": "tea"})
    client = client_for(user)

    assert client.get(URL).json()["count"] == 0
    response = client.delete(f"{URL}/{theirs.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert SavedSearch.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"params": {"q": "tea"}}, "name"),
        ({"name": "", "params": {}}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Bad", "params": {"category": "no-such"}}, "params"),
        ({"name": "Bad", "params": {"colour": "red"}}, "params"),
        ({"name": "Bad", "params": {"min_price": "9", "max_price": "1"}}, "params"),
        ({"name": "Bad", "params": {"ordering": "random"}}, "params"),
        ({"name": "Bad", "params": "q=tea"}, "params"),
    ],
)
def test_invalid_saved_searches_are_400(client_for, user, payload, field):
    response = client_for(user).post(URL, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_unknown_param_is_named(client_for, user):
    response = client_for(user).post(URL, {"name": "Bad", "params": {"colour": "red"}}, format="json")
    assert response.json()["fields"] == {"params": {"colour": ["Unknown search parameter."]}}


def test_duplicate_name_is_a_conflict(client_for, user):
    client = client_for(user)
    assert client.post(URL, {"name": "Tea"}, format="json").status_code == 201
    response = client.post(URL, {"name": "Tea"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_name"
    # Another user may use the same name.
    assert client_for(UserFactory()).post(URL, {"name": "Tea"}, format="json").status_code == 201


def test_saved_searches_are_limited_per_user(client_for, user):
    SavedSearch.objects.bulk_create(
        [SavedSearch(user=user, name=f"s{n}", params={}) for n in range(MAX_SAVED_SEARCHES_PER_USER)]
    )
    response = client_for(user).post(URL, {"name": "One more"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "saved_search_limit"


def test_saved_search_delete_with_a_non_numeric_id_is_404(client_for, user):
    assert client_for(user).delete(f"{URL}/abc").status_code == 404

"""/app/settings/<section>: the dashboard shell for owners and admins; agents get the styled 403 page."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _client(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.mark.parametrize("path", ["/app/settings", "/app/settings/", "/app/settings/widget", "/app/settings/hours"])
def test_owners_get_the_dashboard(world, path) -> None:
    answer = _client(world.owner).get(path)
    assert answer.status_code == 200
    assert b'id="app"' in answer.content


@pytest.mark.parametrize("path", ["/app/settings", "/app/settings/widget"])
def test_agents_get_a_403_page_not_the_settings(world, path) -> None:
    answer = _client(world.agent).get(path)
    assert answer.status_code == 403
    assert b'id="app"' not in answer.content
    # The rest of the dashboard stays theirs.
    assert _client(world.agent).get("/app/").status_code == 200


def test_strangers_sign_in_first(db) -> None:
    answer = Client().get("/app/settings/widget")
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_unknown_sections_are_not_routes(world) -> None:
    assert _client(world.owner).get("/app/settings/Widget!").status_code == 404

"""The install check: sightings recorded by the widget frame, the loader's /widget/check, the API
that shows them, and the one-click allow (owners and admins, CSRF-protected)."""
import pytest
from django.test import Client
from django_scopes import scopes_disabled

from support.models import Tenant, WidgetSighting
from support.services import install_check
from tests.api.conftest import session_client

pytestmark = pytest.mark.django_db


def _frame(tenant: Tenant, origin: str, client: Client | None = None):
    return (client or Client()).get("/widget/frame/", {"key": tenant.widget_key, "origin": origin},
                                    HTTP_SEC_FETCH_DEST="iframe")


def _sightings(tenant: Tenant) -> dict[str, str]:
    with scopes_disabled():
        return dict(WidgetSighting.objects.filter(tenant=tenant).values_list("origin", "status"))


def test_frame_records_where_the_widget_was_installed_and_refused(world, outsider) -> None:
    _frame(world.tenant, "https://site.example")
    _frame(world.tenant, "https://other.example")
    _frame(world.tenant, "http://testserver")  # our own pages (the demo) are not customer sites
    Client().get("/widget/frame/", {"key": world.tenant.widget_key, "origin": "https://direct.example"},
                 HTTP_SEC_FETCH_DEST="document")  # opened directly, not embedded
    assert _sightings(world.tenant) == {"https://site.example": "installed", "https://other.example": "refused"}
    assert _sightings(outsider.tenant) == {}


def test_sightings_are_bounded_per_tenant(world) -> None:
    for i in range(install_check.MAX_SIGHTINGS + 5):
        install_check.record_sighting(tenant=world.tenant, origin=f"https://s{i}.example")
    assert len(_sightings(world.tenant)) <= install_check.MAX_SIGHTINGS


def test_loader_check_answers_whether_the_page_may_embed(world) -> None:
    refused = Client().get("/widget/check", {"key": world.tenant.widget_key}, HTTP_ORIGIN="https://other.example")
    assert refused.json() == {"origin": "https://other.example", "allowed": False}
    assert refused["Access-Control-Allow-Origin"] == "*"
    ok = Client().get("/widget/check", {"key": world.tenant.widget_key}, HTTP_ORIGIN="https://site.example")
    assert ok.json()["allowed"] is True
    assert Client().get("/widget/check", {"key": "wk_nope"}).status_code == 404


def _signed_in(membership) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    return client


def test_checklist_shows_the_refusal_and_an_owner_allows_it(world) -> None:
    _frame(world.tenant, "https://www.site.example")
    owner = _signed_in(world.owner)
    state = owner.get("/api/v1/install-check").json()
    assert state["sightings"][0] | {"first_seen": None, "last_seen": None} == {
        "origin": "https://www.site.example", "status": "refused", "allowed": False,
        "first_seen": None, "last_seen": None}
    assert world.tenant.widget_key in state["snippet"] and state["can_allow"] is True
    assert state["checklist"]["install"] is False

    # CSRF-protected: without the token the session cannot change anything.
    assert owner.post("/api/v1/allowed-origins", {"origin": "https://www.site.example"},
                      content_type="application/json").status_code == 403
    owner.get("/app/")
    token = owner.cookies["csrftoken"].value
    answer = owner.post("/api/v1/allowed-origins", {"origin": "https://www.site.example/"},
                        content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200
    assert answer.json()["allowed_origins"][-1] == "https://www.site.example"
    assert owner.get("/api/v1/install-check").json()["sightings"][0]["allowed"] is True
    _frame(world.tenant, "https://www.site.example")
    assert _sightings(world.tenant)["https://www.site.example"] == "installed"
    assert owner.get("/api/v1/install-check").json()["checklist"]["install"] is True


def test_agents_see_the_check_but_cannot_allow(world) -> None:
    agent = _signed_in(world.agent)
    assert agent.get("/api/v1/install-check").json()["can_allow"] is False
    agent.get("/app/")
    answer = agent.post("/api/v1/allowed-origins", {"origin": "https://x.example"}, content_type="application/json",
                        HTTP_X_CSRFTOKEN=agent.cookies["csrftoken"].value)
    assert answer.status_code == 403
    world.tenant.refresh_from_db()
    assert "https://x.example" not in world.tenant.allowed_origins


def test_allow_rejects_what_is_not_an_origin(world) -> None:
    owner = _signed_in(world.owner)
    owner.get("/app/")
    answer = owner.post("/api/v1/allowed-origins", {"origin": "javascript:alert(1)"}, content_type="application/json",
                        HTTP_X_CSRFTOKEN=owner.cookies["csrftoken"].value)
    assert answer.status_code == 400


@pytest.mark.parametrize(("typed", "origin"), [
    ("newco.example", "https://newco.example"), ("https://www.newco.example/en/", "https://www.newco.example"),
    ("http://localhost:3000", "http://localhost:3000"), ("HTTPS://NewCo.Example", "https://newco.example"),
])
def test_website_address_as_typed_becomes_an_origin(typed: str, origin: str) -> None:
    assert install_check.website_origin(typed) == origin


@pytest.mark.parametrize("typed", ["not a site", "ftp://x.example", "https://"])
def test_website_address_that_is_not_a_site_is_refused(typed: str) -> None:
    with pytest.raises(install_check.ValidationFailed):
        install_check.website_origin(typed)


def test_outsiders_see_and_change_only_their_own_workspace(world, outsider) -> None:
    _frame(world.tenant, "https://www.site.example")
    theirs = _signed_in(outsider.owner)
    state = theirs.get("/api/v1/install-check").json()
    assert state["sightings"] == [] and world.tenant.widget_key not in state["snippet"]
    theirs.get("/app/")
    assert theirs.post("/api/v1/allowed-origins", {"origin": "https://www.site.example"},
                       content_type="application/json",
                       HTTP_X_CSRFTOKEN=theirs.cookies["csrftoken"].value).status_code == 200
    world.tenant.refresh_from_db()
    outsider.tenant.refresh_from_db()
    assert "https://www.site.example" not in world.tenant.allowed_origins
    assert "https://www.site.example" in outsider.tenant.allowed_origins


@pytest.mark.parametrize("change", [{"color": "#0e7490"}, {"greetings": {"zh-Hans": "您好"}},
                                    {"business_hours": {"mon": [["09:00", "17:00"]]}}])
def test_customising_the_widget_ticks_the_checklist(world, change) -> None:
    owner = session_client(world.owner)
    assert owner.get("/api/v1/install-check").json()["checklist"]["customise"] is False
    assert owner.patch("/api/v1/workspace", change).status_code == 200
    assert owner.get("/api/v1/install-check").json()["checklist"]["customise"] is True

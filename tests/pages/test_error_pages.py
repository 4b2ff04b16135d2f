"""`/` is a product page and users never see Django's debug pages, with DEBUG off or on."""
import pytest
from django.test import Client

from support.models import User

pytestmark = pytest.mark.django_db

DEBUG_MARKERS = ("URLconf", "Traceback", "DEBUG = True", "boom: a secret detail")


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.pages.urls"


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings) -> bool:
    settings.DEBUG = request.param
    if "support.error_pages.UserErrorPagesMiddleware" not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "support.error_pages.UserErrorPagesMiddleware"]
    return request.param


def _client(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _assert_styled(response, status: int, heading: str) -> None:
    assert response.status_code == status
    html = response.content.decode()
    assert heading in html
    assert 'href="/"' in html  # the logo and the page's own link lead home
    for marker in DEBUG_MARKERS:
        assert marker not in html


def test_home_page_for_visitors_offers_sign_in_and_sign_up() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/accounts/signup/"' in html and 'href="/accounts/login/"' in html


def test_home_page_sends_signed_in_users_to_the_dashboard(world) -> None:
    response = _client(world.agent.user).get("/")
    assert response.status_code == 302 and response["Location"] == "/app/"


def test_unknown_address_is_the_styled_404(debug) -> None:
    _assert_styled(_client().get("/no/such/page/"), 404, "This page does not exist")


def test_missing_slash_still_redirects(debug) -> None:
    response = _client().get("/accounts/login")
    assert response.status_code == 301 and response["Location"] == "/accounts/login/"


def test_agent_opening_an_owner_page_gets_the_styled_404(debug, world) -> None:
    _assert_styled(_client(world.agent.user).get("/accounts/team/"), 404, "This page does not exist")


def test_permission_denied_is_the_styled_403(debug, world) -> None:
    _assert_styled(_client(world.agent.user).get("/test-forbidden/"), 403, "You don't have access to this page")


def test_crash_is_the_styled_500_and_is_logged(debug, caplog) -> None:
    _assert_styled(_client().get("/test-broken/"), 500, "Something went wrong on our side")
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_platform_staff_keep_the_debug_404_when_debug_is_on(settings, debug) -> None:
    staff = User.objects.create_user("root@platform.example", "pw-Secret-1", is_staff=True)
    html = _client(staff).get("/no/such/page/").content.decode()
    assert ("URLconf" in html) is debug


def test_admin_view_site_link_goes_home(settings) -> None:
    staff = User.objects.create_user("root@platform.example", "pw-Secret-1", is_staff=True, is_superuser=True)
    html = _client(staff).get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in html


@pytest.mark.parametrize(("path", "status", "heading"), [
    ("/no/such/page/", 404, "此页面不存在"),
    ("/test-forbidden/", 403, "您无权访问此页面"),
    ("/test-broken/", 500, "我们这边出了点问题"),
])
def test_the_styled_error_pages_in_chinese(debug, world, path, status, heading) -> None:
    client = _client(world.agent.user)
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    _assert_styled(response, status, heading)
    assert '<html lang="zh-Hans">' in response.content.decode()
    english = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert heading not in english and '<html lang="en">' in english

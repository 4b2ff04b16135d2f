"""The pages around the apps in a real browser, on the embedded default (DEBUG on): the home page,
the styled error pages instead of Django's debug pages, and the API docs without internet access."""
from __future__ import annotations

from typing import Any


def test_home_page_leads_to_sign_in_and_sign_up(new_context: Any, live_server: Any, artifacts: Any) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server.url}/")
    assert page.title() == "Live chat for your website · Switchboard"
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    page.click("main >> text=Sign in")
    page.wait_for_selector("h1:has-text('Sign in')")
    page.click("a.brand")
    page.click("text=Create a workspace")
    page.wait_for_url("**/accounts/signup/")


def test_signed_in_agent_goes_from_home_to_the_dashboard(agent_context: Any, live_server: Any) -> None:
    page = agent_context().new_page()
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/app/")


def test_users_get_styled_error_pages_on_the_debug_server(agent_context: Any, new_context: Any, live_server: Any,
                                                         artifacts: Any) -> None:
    page = new_context().new_page()
    response = page.goto(f"{live_server.url}/no/such/page/")
    assert response.status == 404
    assert page.is_visible("h1:has-text('This page does not exist')")
    assert "URLconf" not in page.content()
    page.screenshot(path=str(artifacts / "error-404.png"), full_page=True)

    agent_page = agent_context().new_page()
    response = agent_page.goto(f"{live_server.url}/accounts/team/")  # owners and admins only
    assert response.status == 404
    assert agent_page.is_visible("h1:has-text('This page does not exist')")
    assert agent_page.is_visible("a:has-text('Open the dashboard')")


def test_api_docs_render_with_no_request_leaving_the_server(new_context: Any, live_server: Any,
                                                            artifacts: Any) -> None:
    page = new_context().new_page()
    elsewhere: list[str] = []

    def only_ours(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Switchboard API')")
    page.screenshot(path=str(artifacts / "api-docs.png"))
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("h1:has-text('Switchboard API')")
    assert elsewhere == []

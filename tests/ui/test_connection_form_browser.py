"""The ``baas`` connection in Airflow 3's own UI, driven in headless Chromium.

Add Connection -> Teradata BaaS -> fill the fields -> Save -> Test (success against the simulator);
Edit with a wrong token -> Test (failure message); PAT mode with a pasted private key -> Test
(success: the simulator verifies the RS256 JWT). After each save, the stored connection is read back
from the metadata DB by Airflow itself, and the page and every API answer the browser received are
searched for the secrets in clear text. Screenshots go to artifacts/ui/.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas.connection import normalise_pem
from airflow_provider_baas.connection_form import FORM_FIELDS, conn_fields

from ._support import KEY_ID, REPO, TOKEN, WRONG_TOKEN, stored_connection, timed

pytestmark = pytest.mark.ui

PAT = "ui-personal-access-token-5e6f7a8b9c"
DOCS_IMAGE = REPO / "docs" / "images" / "connection-form.png"
FORM_DEFAULTS = {n: s["schema"]["default"] for n, s in conn_fields().items() if "default" in s["schema"]}
TEST_TOAST = re.compile(r"Test Connection (Successful|Failed)")


class Page:
    """One browser tab on the api-server, with every API answer it receives kept for inspection."""

    def __init__(self, context: Any, base_url: str, artifacts: Any) -> None:
        self.page = context.new_page()
        self.base_url, self.artifacts = base_url, artifacts
        self.answers: list[str] = []
        self.page.on("response", self._keep)

    def _keep(self, response: Any) -> None:
        if "/api/" in response.url or "/ui/" in response.url:
            # Redirects and aborted requests have no body.
            with contextlib.suppress(Exception):
                self.answers.append(f"{response.request.method} {response.url}\n{response.text()}")

    def shot(self, name: str, locator: Any = None) -> None:
        (locator or self.page).screenshot(path=str(self.artifacts / f"{name}.png"))

    def open_connections(self) -> None:
        self.page.goto(f"{self.base_url}/connections")
        self.page.get_by_role("button", name="Add Connection").wait_for()

    def add_dialog(self) -> Any:
        self.open_connections()
        self.page.get_by_role("button", name="Add Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_role("heading", name="Add Connection").wait_for()
        return dialog

    def choose(self, dialog: Any, label: str, option: str) -> None:
        box = dialog.get_by_role("combobox", name=label)
        box.click()
        box.fill(option)
        self.page.get_by_role("option", name=option, exact=True).click()

    def fill_form(self, dialog: Any, conn_id: str | None, standard: dict, extra: dict) -> None:
        if conn_id is not None:
            dialog.locator("input[name=connection_id]").fill(conn_id)
            self.choose(dialog, "Connection Type", "Teradata BaaS")
        self.expand(dialog, "Standard Fields")
        for name, value in standard.items():
            dialog.locator(f"input[name={name}]").fill(str(value))
        if extra:
            self.expand(dialog, "Extra Fields")
        for name, value in extra.items():
            if name == "auth_mode":
                self.choose(dialog, "Auth mode", value)
                assert dialog.locator("input[name=element_auth_mode]").input_value() == value
            else:
                dialog.locator(f"input[name=element_{name}]").fill(str(value))

    def expand(self, dialog: Any, section: str) -> None:
        trigger = dialog.get_by_role("button", name=section, exact=True)
        if trigger.get_attribute("aria-expanded") != "true":
            trigger.click()

    def save(self, dialog: Any) -> None:
        dialog.get_by_role("button", name="Save").click()
        dialog.wait_for(state="hidden")

    def row(self, conn_id: str) -> Any:
        return self.page.get_by_role("row").filter(has_text=conn_id)

    def press_test(self, conn_id: str) -> tuple[str, str]:
        """Press the row's Test button; returns (toast title, toast text)."""
        self.row(conn_id).get_by_role("button", name="Test Connection").click()
        toast = self.page.locator("[data-scope=toast][data-part=root]").filter(has_text=TEST_TOAST).last
        toast.wait_for()
        self.page.wait_for_timeout(700)  # let the toast finish appearing (for the screenshot)
        text = toast.inner_text()
        return TEST_TOAST.search(text).group(0), text

    def edit_dialog(self, conn_id: str) -> Any:
        self.row(conn_id).get_by_role("button", name="Edit Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_role("heading", name="Edit Connection").wait_for()
        return dialog

    def everything_shown(self, dialog: Any) -> str:
        """Of each section of the dialog (one is open at a time): its text, every input's and
        textarea's value, and the page HTML."""
        seen = []
        for section in ("Standard Fields", "Extra Fields", "Extra Fields JSON"):
            self.expand(dialog, section)
            self.page.wait_for_timeout(300)
            values = self.page.evaluate(
                "() => [...document.querySelectorAll('input, textarea')].map(e => e.value).join('\\n')"
            )
            seen += [self.page.inner_text("body"), values, self.page.content()]
        return "\n".join(seen)


@pytest.fixture
def ui(browser_context, airflow_server, artifacts) -> Iterator[Page]:
    page = Page(browser_context, airflow_server.url, artifacts)
    try:
        yield page
    finally:
        page.page.close()


def _assert_no_secret(haystack: str, secrets: dict[str, str], where: str) -> None:
    for name, secret in secrets.items():
        assert secret not in haystack, f"{name} shown in clear text in {where}"


def _key_fragments(pem: str) -> dict[str, str]:
    body = "".join(pem.strip().splitlines()[1:-1])
    return {"private key (start)": body[:40], "private key (middle)": body[600:640]}


def _entered_extra(stored: dict) -> dict:
    return {k: v for k, v in stored["extra"].items() if v is not None}


def test_token_mode_save_test_then_wrong_token(ui, airflow_server, simulator):
    conn_id = "baas_ui_token"
    entered = {"site_id": simulator.site_id}

    with timed("browser: add + save (token)"):
        dialog = ui.add_dialog()
        standard = {"host": simulator.url, "port": simulator.port, "password": TOKEN}
        ui.fill_form(dialog, conn_id, standard, entered)
        assert dialog.locator("input[name=password]").get_attribute("type") == "password"
        ui.shot("01-token-form", dialog)
        ui.save(dialog)
        ui.row(conn_id).wait_for()

    stored = stored_connection(airflow_server.env, conn_id)
    assert (stored["conn_type"], stored["host"], stored["port"]) == ("baas", simulator.url, simulator.port)
    assert (stored["password"], stored["login"], stored["schema"]) == (TOKEN, None, None)
    assert set(stored["extra"]) <= {f.name for f in FORM_FIELDS}
    assert _entered_extra(stored) == {**FORM_DEFAULTS, **entered}

    with timed("browser: Test (token, success)"):
        title, text = ui.press_test(conn_id)
    ui.shot("02-token-test-success")
    assert title == "Test Connection Successful", text
    assert f"Connected to {simulator.url}/data-protection/v2, site demo-site" in text

    # Repeat with a wrong token, through the Edit dialog.
    with timed("browser: edit + Test (wrong token)"):
        dialog = ui.edit_dialog(conn_id)
        shown = ui.everything_shown(dialog)
        ui.shot("03-token-edit-masked", dialog)
        _assert_no_secret(shown, {"API token": TOKEN}, "the Edit dialog")
        ui.fill_form(dialog, None, {"password": WRONG_TOKEN}, {})
        ui.save(dialog)
        title, text = ui.press_test(conn_id)
    ui.shot("04-wrong-token-test-failure")
    assert title == "Test Connection Failed", text
    assert "Authentication failed (HTTP 401)" in text

    stored_after = stored_connection(airflow_server.env, conn_id)
    assert stored_after["password"] == WRONG_TOKEN
    assert stored_after["extra"] == stored["extra"], "saving the Edit dialog changed the extra"
    _assert_no_secret("\n".join(ui.answers), {"API token": TOKEN, "wrong token": WRONG_TOKEN}, "API answers")


def test_pat_mode_with_a_pasted_private_key(ui, airflow_server, simulator, rsa_key):
    conn_id = "baas_ui_pat"
    entered = {
        "site_id": simulator.site_id,
        "auth_mode": "pat",
        "personal_access_token": PAT,
        "private_key": rsa_key.private_pem,  # pasted with its line breaks, as copied from the file
        "key_id": KEY_ID,
        "subject": "DBC_AIRFLOW",
        "org_claim_value": "org-ui-test",
    }

    with timed("browser: add + save (PAT)"):
        dialog = ui.add_dialog()
        ui.fill_form(dialog, conn_id, {"host": simulator.url, "port": simulator.port}, entered)
        for secret in ("personal_access_token", "private_key"):
            assert dialog.locator(f"input[name=element_{secret}]").get_attribute("type") == "password"
        ui.shot("05-pat-form", dialog)
        ui.save(dialog)
        ui.row(conn_id).wait_for()

    stored = stored_connection(airflow_server.env, conn_id)
    assert stored["password"] in (None, "")
    extra = _entered_extra(stored)
    # The masked one-line field loses the key's line breaks; the hook restores them.
    assert "\n" not in extra["private_key"].strip()
    assert normalise_pem(extra.pop("private_key")) == rsa_key.private_pem
    assert extra == {**FORM_DEFAULTS, **{k: v for k, v in entered.items() if k != "private_key"}}

    with timed("browser: Test (PAT, success)"):
        title, text = ui.press_test(conn_id)
    ui.shot("06-pat-test-success")
    assert title == "Test Connection Successful", text

    dialog = ui.edit_dialog(conn_id)
    shown = ui.everything_shown(dialog)
    ui.shot("07-pat-edit-masked", dialog)
    secrets = {"PAT": PAT, **_key_fragments(rsa_key.private_pem)}
    _assert_no_secret(shown, secrets, "the Edit dialog")
    _assert_no_secret("\n".join(ui.answers), secrets, "API answers")
    dialog.get_by_role("button", name="Close").click()


def test_form_screenshot_for_the_readme(ui):
    """Every label and help text is on the form; the PAT form with example values for the README."""
    ui.page.set_viewport_size({"width": 1000, "height": 2600})
    dialog = ui.add_dialog()
    example = {
        "site_id": "prod-site",
        "auth_mode": "pat",
        "personal_access_token": "example-pat",
        "private_key": "-----BEGIN PRIVATE KEY----- example -----END PRIVATE KEY-----",
        "key_id": "airflow_key",
        "subject": "DBC_AIRFLOW",
        "org_claim_value": "my-org",
    }
    standard = {"host": "https://baas.example.com", "port": 443}
    ui.fill_form(dialog, "baas_default", standard, example)
    extra_item = dialog.locator("[data-scope=accordion][data-part=item]").filter(
        has=ui.page.get_by_role("button", name="Extra Fields", exact=True)
    )
    text = extra_item.inner_text()
    for f in FORM_FIELDS:
        assert f.label in text, f.name
        assert f.description in text, f"{f.name}: help text not shown"
    ui.page.evaluate("document.activeElement && document.activeElement.blur()")
    box, item = dialog.bounding_box(), extra_item.bounding_box()
    extra_png = ui.page.screenshot(
        clip={"x": box["x"], "y": item["y"], "width": box["width"], "height": item["height"]}
    )

    ui.expand(dialog, "Standard Fields")
    standard_item = dialog.locator("[data-scope=accordion][data-part=item]").first
    text = standard_item.inner_text()
    for label in ("Base URL", "Port (optional)", "API token", "Description"):
        assert label in text
    for hidden in ("Schema", "Login"):
        assert hidden not in text.splitlines()
    ui.page.evaluate("document.activeElement && document.activeElement.blur()")
    box, bottom = dialog.bounding_box(), standard_item.bounding_box()
    top_png = ui.page.screenshot(
        clip={
            "x": box["x"],
            "y": box["y"],
            "width": box["width"],
            "height": bottom["y"] + bottom["height"] - box["y"],
        }
    )

    # One picture: the dialog with its Standard Fields, above the Extra Fields section (the form
    # opens one section at a time), composed in the same browser.
    ui.page.set_content(
        '<body style="margin:0;background:#fff">'
        + "".join(
            f'<img style="display:block" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            for png in (top_png, extra_png)
        )
        + "</body>"
    )
    ui.page.set_viewport_size({"width": int(box["width"]), "height": 600})
    ui.page.screenshot(path=str(ui.artifacts / "connection-form.png"), full_page=True)
    if os.environ.get("BAAS_UI_UPDATE_DOCS") == "1" or not DOCS_IMAGE.exists():
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ui.artifacts / "connection-form.png", DOCS_IMAGE)

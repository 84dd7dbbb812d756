"""The studio page as the server renders it (issue #28): the settings folded in a <details> that
opens by itself after an error in one of them (for a browser without JavaScript too), and the clip's
section marked for the page's script."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.web.conftest import form, png_bytes, style_bytes

ADVANCED = re.compile(r'<details class="advanced" id="advanced"\s*(open)?\s*>')


def test_the_settings_are_folded_until_one_of_them_is_wrong(client: FlaskClient) -> None:
    page = client.get("/").text
    assert ADVANCED.search(page).group(1) is None
    assert 'class="for-clip" id="for-clip"' in page and 'id="f-frame_iterations"' in page
    refused = client.post("/", data=form(png_bytes(), style_bytes(), size="99999"), content_type="multipart/form-data")
    assert refused.status_code == 400
    assert ADVANCED.search(refused.text).group(1) == "open"
    assert 'id="error-size" role="alert">Size' in refused.text


def test_a_problem_outside_the_settings_leaves_them_folded(client: FlaskClient) -> None:
    refused = client.post("/", data=form(None, style_bytes()), content_type="multipart/form-data")
    assert refused.status_code == 400
    assert ADVANCED.search(refused.text).group(1) is None

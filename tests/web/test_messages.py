"""The wording of refusals: values quoted as sent, ASCII digits only, unknown files named, and on
the page without JavaScript every error shown, also for fields the page has no input for."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from tests.web.conftest import form, nothing_stored, png_bytes, style_bytes


@pytest.mark.parametrize("field, value, shown", [
    ("size", "64.0", "got 64.0"),  # as sent: not "got 64"
    ("size", "1e309", "got '1e309'"),  # not "got inf"
    ("size", "3_2", "got '3_2'"),  # Python's int() would read 32
    ("size", "\u0663\u0662", "got '\u0663\u0662'"),  # Arabic-Indic digits: int() would read 32
    ("content_weight", "1e7", "got '1e7'"),  # not "got 1e+07"
    ("iterations", "9" * 5000, "(5,000 characters)"),  # named, not echoed
])
def test_values_are_quoted_as_sent(app: Flask, client: FlaskClient, field: str, value: str, shown: str) -> None:
    response = client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), **{field: value}))
    assert response.status_code == 400 and response.json["field"] == field
    assert shown in response.json["error"] and len(response.json["error"]) < 200
    assert nothing_stored(app)


def test_an_unknown_file_is_refused_like_an_unknown_field(app: Flask, client: FlaskClient) -> None:
    data = form(content=png_bytes(), style=style_bytes())
    data["overlay"] = (io.BytesIO(png_bytes()), "overlay.png")
    response = client.post("/api/jobs", data=data)
    assert response.status_code == 400 and response.json["field"] == "overlay"
    assert "unknown file field 'overlay'" in response.json["error"]
    assert nothing_stored(app)


def test_the_page_shows_errors_of_fields_it_has_no_input_for(app: Flask, client: FlaskClient) -> None:
    # The seed preset plans 20 evaluations per round: 100 rounds is over the server's limit, and
    # round_evals has no input on the page.
    data = form(content=png_bytes(), style=style_bytes(), preset="seed", iterations="100")
    api = client.post("/api/jobs", data=dict(data, content=(io.BytesIO(png_bytes()), "p.png"),
                                             style=(io.BytesIO(style_bytes()), "s.jpg")))
    assert api.status_code == 400 and api.json["field"] == "round_evals"
    page = client.post("/", data=data)
    assert page.status_code == 400
    plain = api.json["messages"]["round_evals"]  # the API's answer carries the page's words too
    assert plain.startswith("Evaluations per round") and "IMPASTO_" not in plain
    assert str(escape(plain)) in page.get_data(as_text=True)
    assert nothing_stored(app)

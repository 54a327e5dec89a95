"""backend.problems: the one table from error code to HTTP status, rendered as RFC 9457 documents."""

from __future__ import annotations

import orjson
import pytest
from starlette.requests import Request

import backend.auth.errors
import backend.errors
from backend.errors import AppError
from backend.problems import MEDIA_TYPE, PROBLEMS, TYPE_BASE, problem, problem_response
from points_engine.intake import REJECTION_CODES

SERVER_FAULTS = {"internal", "invariant-violation"}
UNAVAILABLE = {"overloaded"}  # the platform sheds load: the request may be retried as it is


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})


def _codes_raised_by(*modules: object) -> set[str]:
    return {
        value.code
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, AppError) and value is not AppError
    }


class TestProblemTable:
    @pytest.mark.parametrize("code", sorted(PROBLEMS))
    def test_every_code_renders_with_its_status_title_and_type(self, code):
        status, title = PROBLEMS[code]
        doc = problem(code, "what happened", pointer="/actions/0")
        assert doc == {
            "type": f"https://tanhui.example/problems/{code}",
            "title": title,
            "status": status,
            "detail": "what happened",
            "pointer": "/actions/0",
        }

    @pytest.mark.parametrize("code", sorted(PROBLEMS))
    def test_every_code_renders_as_a_problem_json_response(self, code):
        response = problem_response(_request(), code, "what happened")
        assert response.status_code == PROBLEMS[code][0]
        assert response.media_type == MEDIA_TYPE == "application/problem+json"
        doc = orjson.loads(bytes(response.body))
        assert doc["type"] == TYPE_BASE + code and doc["instance"].startswith("urn:tanhui:request:")

    @pytest.mark.parametrize("code", sorted(PROBLEMS))
    def test_only_server_faults_are_5xx(self, code):
        status = PROBLEMS[code][0]
        if code in SERVER_FAULTS:
            assert status == 500
        elif code in UNAVAILABLE:
            assert status == 503
        else:
            assert 400 <= status < 500

    @pytest.mark.parametrize("code", sorted(PROBLEMS))
    def test_codes_are_kebab_case_and_every_code_has_a_title(self, code):
        assert code == code.lower() and " " not in code and "_" not in code
        assert PROBLEMS[code][1].strip()

    def test_every_error_the_backend_raises_has_a_row(self):
        raised = _codes_raised_by(backend.errors, backend.auth.errors)
        assert raised and raised <= PROBLEMS.keys()

    def test_every_rejection_of_an_action_has_a_row(self):
        assert set(REJECTION_CODES) | {"consent-withdrawn"} <= PROBLEMS.keys()

    def test_an_unknown_code_is_a_programming_error(self):
        with pytest.raises(KeyError):
            problem("no-such-code", "x")

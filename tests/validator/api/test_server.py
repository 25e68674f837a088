"""The API process's settings wire its app: the attribution model is the one configured."""

from __future__ import annotations

from fastapi.testclient import TestClient

from validator.api.server import ApiSettings, build_app

# An unreachable Redis: building the app sends no command, so this needs no server.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_attribution_uses_the_configured_model() -> None:
    settings = ApiSettings(
        redis_url=UNREACHABLE_REDIS,
        attribution_model="some-org/some-model",
        attribution_device="cuda",
    )
    app = build_app(settings)
    assert app.state.model.name == "some-org/some-model"
    assert not app.state.model.loaded  # loaded on the first request, not at start


def test_attribution_model_none_turns_the_route_off() -> None:
    app = build_app(ApiSettings(redis_url=UNREACHABLE_REDIS, attribution_model="none"))
    res = TestClient(app).post("/v1/attribution", json={"prompt": "x", "completion": "y"})
    assert res.status_code == 503 and "no model" in res.json()["detail"]

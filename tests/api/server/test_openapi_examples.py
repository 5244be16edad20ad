"""Every API operation has an example in the OpenAPI document, valid against its own response
model; /docs and /redoc load their assets from this server, not a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from api.server import models
from api.server.app import create_app
from api.server.openapi_examples import EXAMPLES


def _app(tmp_path):
    return create_app(state_db_url=f"sqlite:///{tmp_path / 's.sqlite'}", workspace=tmp_path / "ws")


def test_every_operation_has_an_example_valid_for_its_model(tmp_path):
    app = _app(tmp_path)
    spec = app.openapi()
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if (method, path) not in EXAMPLES:
                missing.append(f"{method} {path}")
                continue
            for param in op.get("parameters", []):
                if param.get("in") == "path" and "example" not in param:
                    missing.append(f"{method} {path} {param['name']}")
            if (
                "requestBody" in op
                and "example" not in op["requestBody"]["content"]["application/json"]
            ):
                missing.append(f"{method} {path} body")
            ok = [c for c in op["responses"] if c.startswith("2")]
            json_ok = [c for c in ok if "application/json" in op["responses"][c].get("content", {})]
            if json_ok and not all("example" in op["responses"][c]["content"]["application/json"]
                                   for c in json_ok):  # fmt: skip
                missing.append(f"{method} {path} response")
    assert not missing, missing
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ex = EXAMPLES.get((method, path), {})
            for code, response in op["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if not code.startswith("2") or "response" not in ex or not schema:
                    continue
                ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                if ref is None:
                    continue
                model = getattr(models, ref.rsplit("/", 1)[1])
                target = list[model] if schema.get("type") == "array" else model
                TypeAdapter(target).validate_python(ex["response"])
                checked += 1
    assert checked >= 20


def test_docs_are_served_from_local_assets(tmp_path):
    with TestClient(_app(tmp_path)) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            urls += re.findall(r"""url:\\s*['"]([^'"]+)['"]""", html)
            external = [u for u in urls if u.startswith(("http:", "https:", "//"))]
            assert not external, (page, external)
            for url in urls:
                if url.startswith("/web/static/"):
                    assert client.get(url).status_code == 200, url
        assert "/web/static/vendor/swagger-ui/swagger-ui-bundle.js" in client.get("/docs").text
        assert "/web/static/vendor/redoc/redoc.standalone.js" in client.get("/redoc").text

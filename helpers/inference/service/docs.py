"""The service's ``/docs`` page: its OpenAPI description as one self-contained HTML page.

FastAPI's own ``/docs`` loads Swagger UI's JavaScript and CSS from a CDN, and this project's
environment ships no copy of them, so offline (the course's machines, a desk behind a proxy)
the page was blank. This page is written on the server from ``app.openapi()``: every endpoint,
its body's fields with their types, limits and units, its answers, and a link to the machine-
readable ``openapi.json``. It loads nothing: no script, no stylesheet, no font, no image, and
every link on it is relative.
"""

from __future__ import annotations

import json
from html import escape

_STYLE = """
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
code, pre { background: #f4f4f4; padding: 0 .2rem; }
pre { padding: .5rem; overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; vertical-align: top; }
h2 { border-top: 1px solid #ccc; padding-top: 1rem; }
"""

_LIMITS = {
    "minItems": "at least {}",
    "maxItems": "at most {:,}",
    "minimum": ">= {}",
    "maximum": "<= {}",
    "exclusiveMinimum": "> {}",
    "exclusiveMaximum": "< {}",
}


def _resolve(schema: dict, spec: dict) -> dict:
    """``schema`` with a top-level ``$ref`` (``#/components/schemas/Name``) replaced by its
    target."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def _type(schema: dict, spec: dict) -> str:
    """A field's type in words: ``number``, ``array of Option``, ``object of number``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s, spec) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), spec)}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'], spec)}"
    return str(kind)


def _fields(name: str, spec: dict) -> str:
    """A table of one schema's fields: name, type, required, limits, description."""
    schema = _resolve({"$ref": f"#/components/schemas/{name}"}, spec)
    required = set(schema.get("required", ()))
    rows = []
    for field, sub in schema.get("properties", {}).items():
        limits = [text.format(sub[key]) for key, text in _LIMITS.items() if key in sub]
        if "default" in sub:
            limits.append(f"default {json.dumps(sub['default'])}")
        rows.append(
            f"<tr><td><code>{escape(field)}</code></td><td>{escape(_type(sub, spec))}</td>"
            f"<td>{'yes' if field in required else 'no'}</td>"
            f"<td>{escape(', '.join(limits))}</td>"
            f"<td>{escape(sub.get('description', ''))}</td></tr>"
        )
    extra = "" if schema.get("additionalProperties", True) else " No other field is accepted."
    return (
        f"<h3 id='{escape(name)}'>{escape(name)}</h3><p>{escape(schema.get('description', ''))}"
        f"{extra}</p><table><tr><th>field</th><th>type</th><th>required</th><th>limits</th>"
        f"<th>meaning</th></tr>{''.join(rows)}</table>"
    )


def _referenced(schema: dict, spec: dict, seen: list[str]) -> None:
    """Appends to ``seen`` every schema name ``schema`` refers to, depth first."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen.append(name)
        schema = _resolve(schema, spec)
    for sub in schema.get("properties", {}).values():
        _referenced(sub, spec, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _referenced(schema[key], spec, seen)
    for sub in schema.get("anyOf", ()):
        _referenced(sub, spec, seen)


def docs_page(spec: dict) -> str:
    """The HTML of ``/docs`` for an OpenAPI document ``spec`` (``app.openapi()``)."""
    info = spec.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(info.get('version', ''))}"
        "</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        "<p>The machine-readable description: <a href='openapi.json'>openapi.json</a> (OpenAPI "
        f"{escape(spec.get('openapi', ''))}). This page loads nothing from the network.</p>",
    ]
    schemas: list[str] = []
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            parts.append(
                f"<h2><code>{escape(method.upper())} {escape(path)}</code></h2>"
                f"<p>{escape(operation.get('summary', ''))}</p>"
                f"<pre>{escape(operation.get('description', ''))}</pre>"
            )
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                schema = content.get("schema", {})
                _referenced(schema, spec, schemas)
                parts.append(f"<p>Body ({escape(media)}): {escape(_type(schema, spec))}.</p>")
            rows = []
            for status, answer in operation.get("responses", {}).items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                _referenced(schema, spec, schemas)
                shape = escape(_type(schema, spec)) if schema else ""
                rows.append(
                    f"<tr><td>{escape(str(status))}</td><td>{escape(answer.get('description', ''))}"
                    f"</td><td>{shape}</td></tr>"
                )
            parts.append(
                "<table><tr><th>status</th><th>meaning</th><th>body</th></tr>"
                f"{''.join(rows)}</table>"
            )
    parts.append("<h2>Bodies</h2>")
    parts += [_fields(name, spec) for name in schemas]
    parts.append("</body></html>")
    return "\n".join(parts)

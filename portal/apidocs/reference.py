"""The operation tables of the integrators' page, read from the OpenAPI document the app serves
(portal.api.openapi.document()), so the page cannot say something the contract does not.

Plain dicts and lists out, for the template; nothing here knows a particular operation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str
    rules: list[str]  # "≤ 100 字符", "枚举：hotline, wechat", ... (constraints as the schema says them)


@dataclass
class Response:
    status: str
    description: str
    codes: list[str]  # error codes this answer may carry, where the document says


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    secured: bool
    parameters: list[Field] = field(default_factory=list)
    bodies: list[tuple[str, list[Field]]] = field(default_factory=list)  # (content type, fields)
    responses: list[Response] = field(default_factory=list)
    example: str | None = None  # the request body example, JSON text

    @property
    def anchor(self) -> str:
        return "op-" + (self.operation_id or f"{self.method}-{self.path}").replace("/", "-").strip("-")


class Reference:
    """One OpenAPI 3.1 document, read for people."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.components = (doc.get("components") or {}).get("schemas") or {}

    # ------------------------------------------------------------ schemas

    def resolve(self, schema: dict | None, depth: int = 0) -> dict:
        """A schema with its $ref followed and allOf merged (deep enough for request bodies)."""
        schema = schema or {}
        if depth > 10:
            return schema
        if "$ref" in schema:
            target = self._ref(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**self.resolve(target, depth + 1), **rest}
        if "allOf" in schema:
            merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
            props, required = dict(merged.get("properties") or {}), list(merged.get("required") or [])
            for part in schema["allOf"]:
                part = self.resolve(part, depth + 1)
                props.update(part.get("properties") or {})
                required += part.get("required") or []
                merged = {**part, **merged}
            merged["properties"], merged["required"] = props, required
            return merged
        return schema

    def _ref(self, ref: str) -> dict:
        node = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        return node

    def type_name(self, schema: dict) -> str:
        schema = self.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return " | ".join(dict.fromkeys(self.type_name(s) for s in schema[key]))
        t = schema.get("type")
        if isinstance(t, list):
            return " | ".join(self._one_type(schema, x) for x in t)
        if t is None and "properties" in schema:
            t = "object"
        if t is None and "const" in schema:
            return json.dumps(schema["const"], ensure_ascii=False)
        return self._one_type(schema, t) if t else "any"

    def _one_type(self, schema: dict, t: str) -> str:
        if t == "array":
            return f"array[{self.type_name(schema.get('items') or {})}]"
        if t == "string" and schema.get("format"):
            return f"string ({schema['format']})"
        return t

    def rules(self, schema: dict) -> list[str]:
        s = self.resolve(schema)
        out = []
        if "enum" in s:
            out.append("enum: " + ", ".join(str(v) for v in s["enum"] if v is not None))
        for key, word in (("minLength", "minLength"), ("maxLength", "maxLength"), ("minimum", "minimum"),
                          ("maximum", "maximum"), ("minItems", "minItems"), ("maxItems", "maxItems"),
                          ("pattern", "pattern"), ("default", "default")):
            if key in s:
                out.append(f"{word}: {s[key]}")
        if "items" in s and isinstance(s["items"], dict) and "enum" in self.resolve(s["items"]):
            out.append("items enum: " + ", ".join(str(v) for v in self.resolve(s["items"])["enum"]))
        return out

    def fields(self, schema: dict) -> list[Field]:
        s = self.resolve(schema)
        required = set(s.get("required") or [])
        return [Field(name, self.type_name(prop), name in required,
                      self.resolve(prop).get("description") or prop.get("description") or "",
                      self.rules(prop))
                for name, prop in (s.get("properties") or {}).items()]

    # ------------------------------------------------------------ operations

    def operations(self) -> list[Operation]:
        out = []
        global_security = self.doc.get("security")
        by_status: dict[str, list[str]] = {}  # an error answer's possible codes (the error table)
        for e in self.error_codes():
            if e.get("status") is not None:
                by_status.setdefault(str(e["status"]), []).append(e["code"])
        for path, item in (self.doc.get("paths") or {}).items():
            shared_params = item.get("parameters") or []
            for method in METHODS:
                op = item.get(method)
                if not op:
                    continue
                security = op.get("security", global_security)
                o = Operation(method.upper(), path, op.get("operationId", ""), op.get("summary", ""),
                              op.get("description", ""), (op.get("tags") or [""])[0],
                              bool(security) and any(bool(s) for s in security))
                for p in shared_params + (op.get("parameters") or []):
                    p = self.resolve(p)
                    schema = p.get("schema") or {}
                    o.parameters.append(Field(f"{p.get('name')} ({p.get('in')})", self.type_name(schema),
                                              bool(p.get("required")), p.get("description", ""),
                                              self.rules(schema)))
                body = self.resolve(op.get("requestBody"))
                for ctype, media in (body.get("content") or {}).items():
                    o.bodies.append((ctype, self.fields(media.get("schema") or {})))
                    example = media.get("example")
                    if example is None and media.get("examples"):
                        example = next(iter(media["examples"].values()), {}).get("value")
                    if example is None:  # the example given on the schema itself
                        schema = self.resolve(media.get("schema"))
                        example = schema.get("example", (schema.get("examples") or [None])[0])
                    if example is not None and o.example is None and "json" in ctype:
                        o.example = json.dumps(example, ensure_ascii=False, indent=2)
                for status, resp in sorted((op.get("responses") or {}).items(), key=lambda kv: str(kv[0])):
                    resp = self.resolve(resp)
                    codes = list(resp.get("x-error-codes") or []) or by_status.get(str(status), [])
                    o.responses.append(Response(str(status), resp.get("description", ""), codes))
                out.append(o)
        return out

    def operation(self, operation_id: str | None = None, method: str | None = None,
                  path: str | None = None) -> Operation | None:
        for o in self.operations():
            if (operation_id and o.operation_id == operation_id) or (
                    method and path and o.method == method.upper() and o.path == path):
                return o
        return None

    def error_codes(self) -> list[dict]:
        """[{code, status, message, message_en}] from the document's "x-error-codes"
        (a list of such dicts, or a dict code -> dict), else the enum of an error schema's code."""
        raw = self.doc.get("x-error-codes")
        if isinstance(raw, dict):
            raw = [{"code": k, **(v if isinstance(v, dict) else {"message": v})} for k, v in raw.items()]
        if raw:
            return sorted(raw, key=lambda e: (str(e.get("status", "")), e.get("code", "")))
        for schema in self.components.values():
            err = self.resolve(schema).get("properties", {}).get("error")
            code = self.resolve(err).get("properties", {}).get("code") if err else None
            if code and "enum" in self.resolve(code):
                return [{"code": c} for c in self.resolve(code)["enum"]]
        return []

    @property
    def server(self) -> str:
        """The base URL the paths are under (the document's first server)."""
        return ((self.doc.get("servers") or [{}])[0].get("url") or "").rstrip("/")

    @property
    def version(self) -> str:
        return (self.doc.get("info") or {}).get("version", "")

    @property
    def openapi(self) -> str:
        return self.doc.get("openapi", "")

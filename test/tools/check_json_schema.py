#!/usr/bin/env python3
"""Validates a JSON document against the subset of JSON Schema that
docs/tessera-inspect-1.schema.json uses (type, const, required, properties,
items, additionalProperties), with the standard library only.

usage: check_json_schema.py SCHEMA.json < DOCUMENT.json
"""
import json
import sys

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def check(value, schema, where, errors):
    kind = schema.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind:
        ok = isinstance(value, TYPES[kind])
    else:
        ok = True
    if not ok:
        errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
        return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing '{key}'")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(value[key], sub, f"{where}.{key}", errors)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, v in value.items():
                if key not in schema.get("properties", {}):
                    check(v, extra, f"{where}.{key}", errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(v, schema["items"], f"{where}[{i}]", errors)


def main():
    schema = json.load(open(sys.argv[1]))
    document = json.load(sys.stdin)
    errors = []
    check(document, schema, "$", errors)
    for e in errors:
        print("schema error:", e)
    print("valid" if not errors else f"{len(errors)} schema error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

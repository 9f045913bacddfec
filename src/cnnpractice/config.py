"""The workflow's config beyond JSON-Schema validation: command-line values typed by the
schema, and integers that must be integers.

* :func:`coerce_overrides` -- Snakemake parses a nested ``--config`` value with YAML's
  BaseLoader, so ``--config brain='{enabled: false}'`` arrives as ``{"enabled": "false"}``
  and would fail validation ("'false' is not of type 'boolean'"). Each string the command
  line gave is re-read as YAML where the schema wants another type there; anything that
  still does not fit stays as given, so validation names the key.
* :func:`check_config` -- JSON-Schema validation whose every error starts with the dotted
  key it is about (``config key smalldata.training.lr: ...``), including the key a typo
  made up (``additionalProperties``), a missing required key and a bad name of a named
  entry (``propertyNames``), where jsonschema only names the enclosing object.
* :func:`check_integers` -- JSON Schema (draft 6 and later) counts ``42.0`` as an integer;
  a seed, a count or a size written as a float is refused here, naming the key.

* :func:`fill_defaults` -- the schema's defaults, set as ``snakemake.utils.validate`` sets
  them, from the schema ``rules/common.smk`` already loaded (Snakemake's would parse the
  YAML again: a third of a dry run's start-up).

The Snakefile runs them in that order (``rules/common.smk``). Imports only the standard library, PyYAML and (in
:func:`config_errors`) jsonschema, which Snakemake itself needs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
_NULLS = ("null", "Null", "NULL", "~")


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return _JSON_TYPES.get(type(value), "unknown")


def _resolve(node: Any, root: Mapping) -> Iterator[Mapping]:
    """``node`` and every schema it combines (``$ref``, ``allOf``, ``anyOf``, ``oneOf``)."""
    if not isinstance(node, Mapping):
        return
    yield node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        yield from _resolve(target, root)
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key) or []:
            yield from _resolve(branch, root)


def _child(node: Any, key: str, root: Mapping) -> list[Mapping]:
    """The schemas of property ``key`` of an object described by ``node``."""
    import re

    found = []
    for part in _resolve(node, root):
        if key in (part.get("properties") or {}):
            found.append(part["properties"][key])
            continue
        matched = [s for p, s in (part.get("patternProperties") or {}).items() if re.search(p, key)]
        found.extend(matched)
        if not matched and isinstance(part.get("additionalProperties"), Mapping):
            found.append(part["additionalProperties"])
    return found


def _items(node: Any, root: Mapping) -> list[Mapping]:
    return [part["items"] for part in _resolve(node, root) if isinstance(part.get("items"), Mapping)]


def _types(nodes: list[Mapping], root: Mapping) -> set[str]:
    """JSON types the schemas ``nodes`` accept (from ``type``, ``enum`` and ``const``)."""
    types: set[str] = set()
    for node in nodes:
        for part in _resolve(node, root):
            declared = part.get("type")
            types.update([declared] if isinstance(declared, str) else declared or [])
            types.update(_json_type(v) for v in part.get("enum") or [])
            if "const" in part:
                types.add(_json_type(part["const"]))
    return types


def _accepts_string(nodes: list[Mapping], root: Mapping, value: str) -> bool:
    for node in nodes:
        for part in _resolve(node, root):
            declared = part.get("type")
            if declared == "string" or (isinstance(declared, list) and "string" in declared):
                if "enum" not in part or value in part["enum"]:
                    return True
            elif "enum" in part and value in part["enum"]:
                return True
    return False


def _coerce(value: Any, nodes: list[Mapping], root: Mapping) -> Any:
    import yaml

    if isinstance(value, Mapping):
        return {k: _coerce(v, [c for n in nodes for c in _child(n, k, root)], root) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v, [c for n in nodes for c in _items(n, root)], root) for v in value]
    if not isinstance(value, str) or not nodes:
        return value
    if value in _NULLS and "null" in _types(nodes, root):
        return None  # YAML's null, where the schema allows one (a path is never called "null")
    if _accepts_string(nodes, root, value):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    allowed = _types(nodes, root)
    kind = _json_type(parsed)
    if kind in allowed or (kind == "integer" and "number" in allowed):
        return _coerce(parsed, nodes, root) if kind in ("object", "array") else parsed
    return value


def coerce_overrides(config: MutableMapping, overrides: Mapping, schema: Mapping) -> list[str]:
    """Type the values of ``overrides`` (Snakemake's ``--config``, already merged into
    ``config``) by ``schema``, in place in ``config``; returns the keys changed (dotted).

    A string goes through ``yaml.safe_load`` only where the schema does not accept that
    string but accepts the parsed value's type (``"false"`` for a boolean, ``"3"`` for an
    integer, ``"[1, 2]"`` for an array); other values are left for validation to report.
    """
    changed: list[str] = []

    def walk(target: MutableMapping, given: Mapping, nodes: list[Mapping], path: str) -> None:
        for key, value in given.items():
            if key not in target:
                continue
            children = [c for n in nodes for c in _child(n, key, schema)]
            where = f"{path}{key}"
            if isinstance(value, Mapping) and isinstance(target[key], MutableMapping):
                walk(target[key], value, children, where + ".")
                continue
            typed = _coerce(target[key], children, schema)
            if typed != target[key] or type(typed) is not type(target[key]):
                target[key] = typed
                changed.append(where)

    walk(config, overrides, [schema], "")
    return changed


def check_integers(config: Mapping, schema: Mapping) -> None:
    """Refuse a float where the schema wants an integer (``seed: 42.0``), naming the key.

    Raises
    ------
    ValueError
        ``config key <dotted.key>: 42.0 is not an integer ...``.
    """

    def walk(value: Any, nodes: list[Mapping], path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, [c for n in nodes for c in _child(n, str(key), schema)], f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, [c for n in nodes for c in _items(n, schema)], f"{path}[{i}]")
        elif isinstance(value, float) and nodes:
            allowed = _types(nodes, schema)
            if "integer" in allowed and "number" not in allowed:
                hint = f" (write {int(value)}, without a decimal point)" if value.is_integer() else ""
                raise ValueError(
                    f"config key {path}: {value!r} is not an integer; the schema (config/schema.yaml) "
                    f"wants an integer here{hint}"
                )

    walk(config, [schema], "")


def _dotted(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def config_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every schema violation of ``config``, one line each: ``config key <dotted.key>:
    <jsonschema's message>``, sorted by key. Empty when ``config`` is valid."""
    import re

    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    lines = set()
    for error in validator.iter_errors(config):
        where = _dotted(error.absolute_path)
        keys = [where]
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = set(error.schema.get("properties") or {})
            patterns = list(error.schema.get("patternProperties") or {})
            extra = [k for k in error.instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
            keys = [_join(where, k) for k in extra] or keys
        elif error.validator == "required":
            keys = [_join(where, error.message.split("'")[1])] if error.message.count("'") >= 2 else keys
        elif "propertyNames" in error.relative_schema_path:
            keys = [_join(where, error.instance)]
        for key in keys:
            lines.add(f"config key {key or '(top level)'}: {error.message}")
    return sorted(lines)


def fill_defaults(config: dict, schema: Mapping) -> None:
    """Set every ``default`` of ``schema`` that ``config`` lacks, in place, as Snakemake's
    ``validate(config, schema)`` does (the jsonschema FAQ's ``properties`` extension), from
    the schema already loaded: Snakemake's would load and parse the YAML a second time."""
    from jsonschema import validators

    base = validators.validator_for(schema)
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        for name, sub in properties.items():
            if "default" in sub and isinstance(instance, dict):
                instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    errors = list(validators.extend(base, {"properties": set_defaults})(schema).iter_errors(config))
    if errors:  # check_config ran first: only a default that breaks the schema lands here
        raise ValueError(f"config/schema.yaml: a default does not fit the schema: {errors[0].message}")


def check_config(config: Mapping, schema: Mapping) -> None:
    """Raise ``ValueError`` listing :func:`config_errors` (naming config/schema.yaml) if any."""
    errors = config_errors(config, schema)
    if errors:
        raise ValueError(
            f"the config does not fit config/schema.yaml ({len(errors)} error{'s' if len(errors) > 1 else ''}):\n"
            + "\n".join(errors)
        )

"""Every section of config/schema.yaml refuses bad input naming the dotted key.

The cases come from walking the schema beside the shipped configs (the offline default,
then paper.yaml and the tiny test config layered on it), so a new section or key is covered
without editing this file: every closed object gets a misspelt key, every named entry a bad
name, every required key is deleted, every value gets one of a wrong type and, where the
schema gives a range, a length or a list of choices, one outside it. Each must fail with
``config key <dotted.key>:`` in the error (cnnpractice.config.config_errors, what
rules/common.smk runs first), and Snakemake's validation must refuse a sample of them too.
"""

import copy
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from cnnpractice.config import check_config, config_errors

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
LAYERS = [None, "config/paper.yaml", "tests/config/tiny.yaml"]
# one value of each JSON type; a leaf gets the first its schema does not accept
WRONG = [("string", "not-valid"), ("integer", 123456789), ("number", 0.5), ("boolean", True), ("object", {"x": 1})]
ENUM_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


def merged(base, layer):
    out = copy.deepcopy(base)
    for key, value in layer.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


BASE = yaml.safe_load((ROOT / "config/config.yaml").read_text())
CONFIGS = [merged(BASE, yaml.safe_load((ROOT / layer).read_text())) if layer else BASE for layer in LAYERS]


def parts(node):
    """``node`` and the schemas it includes ($ref, allOf); not the oneOf/anyOf branches."""
    if node is None:
        return []
    out = [node]
    if "$ref" in node:
        target = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        out += parts(target)
    for branch in node.get("allOf", []):
        out += parts(branch)
    return out


def child(node, key):
    """The schema of property ``key`` of an object described by ``node``."""
    for part in parts(node):
        if key in part.get("properties", {}):
            return part["properties"][key]
    named = [p["additionalProperties"] for p in parts(node) if isinstance(p.get("additionalProperties"), dict)]
    return named[0] if named else None


def items(node):
    return next((p["items"] for p in parts(node) if isinstance(p.get("items"), dict)), None)


def accepted_types(node):
    alternatives = [b for p in parts(node) for key in ("oneOf", "anyOf") for b in p.get(key, [])]
    types = set()
    for part in [q for b in alternatives for q in parts(b)] + parts(node):
        declared = part.get("type", [])
        types.update([declared] if isinstance(declared, str) else declared)
        types.update(ENUM_TYPES[type(v)] for v in part.get("enum", []))
    return types


def wrong_type(node):
    types = accepted_types(node)
    if not types:
        return None
    for kind, value in WRONG:
        if kind not in types and not (kind == "integer" and "number" in types):
            return value
    return "not-valid"


def out_of_range(node):
    """Values just outside the range, length or choices the schema declares for ``node``."""
    found = []
    for part in parts(node):
        found += [part[k] - 1 for k in ("minimum",) if k in part]
        found += [part[k] + 1 for k in ("maximum",) if k in part]
        found += [part[k] for k in ("exclusiveMinimum", "exclusiveMaximum") if k in part]
        if "enum" in part and all(isinstance(v, str) or v is None for v in part["enum"]):
            found.append("no_such_choice")
        if part.get("minItems", 0) >= 1:
            found.append([])
        if part.get("minLength", 0) >= 1:
            found.append("")
        if "maxItems" in part:
            found.append([1] * (part["maxItems"] + 1))
    return found


def walk(value, node, path):
    """(kind, dotted key, path to the parent, mutation) of every case below ``value``."""
    if node is None:
        return
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    if isinstance(value, dict):
        if value and any(p.get("additionalProperties") is False for p in parts(node)):
            first = sorted(value)[0]
            yield "typo", f"{dotted}.{first}{first[-1]}", path, ("add", first + first[-1], value[first])
        if value and any("propertyNames" in p for p in parts(node)):
            yield "name", f"{dotted}.Bad-Name", path, ("add", "Bad-Name", value[sorted(value)[0]])
        for key in {k for p in parts(node) for k in p.get("required", []) if k in value}:
            yield "required", f"{dotted}.{key}", path, ("delete", key)
        for key, item in value.items():
            yield from walk(item, child(node, key), (*path, key))
    elif isinstance(value, list) and value:
        yield from walk(value[0], items(node), (*path, 0))
    if path:
        for kind, bad in [("range", v) for v in out_of_range(node)] + [("type", wrong_type(node))]:
            if bad is not None:
                yield kind, dotted, path[:-1], ("set", path[-1], bad)


def mutated(config, parent, mutation):
    config = copy.deepcopy(config)
    node = config
    for key in parent:
        node = node[key]
    if mutation[0] == "set":
        node[mutation[1]] = mutation[2]
    elif mutation[0] == "add":
        node[mutation[1]] = mutation[2]
    else:
        del node[mutation[1]]
    return config


def cases(section):
    """The section's cases over every shipped config layering, each once."""
    seen = {}
    for config in CONFIGS:
        if section in config:
            for kind, dotted, parent, mutation in walk(config[section], SCHEMA["properties"][section], (section,)):
                key = (kind, dotted, json.dumps(mutation[-1], default=str))
                seen.setdefault(key, (kind, dotted, config, parent, mutation))
    return list(seen.values())


SECTIONS = sorted(SCHEMA["properties"])


@pytest.mark.parametrize("section", SECTIONS)
def test_every_bad_value_of_a_section_names_its_dotted_key(section):
    found = cases(section)
    kinds = {kind for kind, *_ in found}
    assert {"type", "range"} <= kinds, kinds  # every section has wrong and out-of-range values
    if any(p.get("type") == "object" for p in parts(SCHEMA["properties"][section])):
        assert {"typo", "required"} & kinds and "typo" in kinds, kinds  # ... and closed objects
    missed = []
    for kind, dotted, config, parent, mutation in found:
        errors = config_errors(mutated(config, parent, mutation), SCHEMA)
        if not any(e.startswith(f"config key {dotted}:") for e in errors):
            missed.append((kind, dotted, mutation[-1], errors[:2]))
    assert not missed, f"{len(missed)} of {len(found)} cases not named:\n" + "\n".join(map(str, missed[:25]))


def test_shipped_configs_have_no_errors():
    for config in CONFIGS:
        assert config_errors(config, SCHEMA) == []


def test_a_misspelt_top_level_key_is_named():
    with pytest.raises(ValueError, match=r"config key sedd: Additional properties are not allowed \('sedd'"):
        check_config({**BASE, "sedd": 1}, SCHEMA)


@pytest.mark.parametrize("section", SECTIONS)
def test_snakemake_validation_agrees(section):
    """What config_errors refuses, Snakemake's validate (which fills defaults) refuses too:
    one case of each kind per section."""
    by_kind = {}
    for kind, dotted, config, parent, mutation in cases(section):
        by_kind.setdefault(kind, (dotted, config, parent, mutation))
    for dotted, config, parent, mutation in by_kind.values():
        with pytest.raises(Exception, match="Error validating config"):
            validate(mutated(config, parent, mutation), str(ROOT / "config" / "schema.yaml"))
            pytest.fail(f"Snakemake's validate took {dotted} = {mutation[-1]!r}")

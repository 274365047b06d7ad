"""The schema file: valid JSON Schema, one definition per published kind, shipped with the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jsonschema

from costeer.events import EVENT_KINDS, SCHEMA_PATH


def test_every_kind_has_exactly_one_definition(event_schema):
    kinds = []
    for choice in event_schema["oneOf"]:
        definition = event_schema["$defs"][choice["$ref"].rsplit("/", 1)[1]]
        kinds.append(definition["properties"]["kind"]["const"])
    assert sorted(kinds) == sorted(EVENT_KINDS) and len(set(kinds)) == len(kinds)


def test_a_payload_missing_a_field_or_of_an_unknown_kind_is_invalid(event_schema):
    validator = jsonschema.Draft202012Validator(event_schema)
    good = {"kind": "client/left", "server": "lab", "time": 1.0, "seq": 3, "client": "client-1", "clients": 0}
    assert validator.is_valid(good)
    assert not validator.is_valid({key: value for key, value in good.items() if key != "clients"})
    assert not validator.is_valid({**good, "kind": "client/vanished"})
    assert not validator.is_valid({**good, "seq": -1})


def test_the_schema_ships_as_package_data():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert SCHEMA_PATH.name in pyproject["tool"]["setuptools"]["package-data"]["costeer.events"]

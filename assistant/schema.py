"""The MyGene API described as data: endpoints, parameters, species and limits.

Loaded from ``data/schema/mygene_api.json``; the store, the query validator, the grammar and the
prompts all read this one description.

>>> api = load_api()
>>> api.taxid("human"), api.taxid("9823"), api.limits["max_size"]
(9606, 9823, 1000)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .config import ROOT

API_PATH = ROOT / "data" / "schema" / "mygene_api.json"


@dataclass(frozen=True)
class ApiSpec:
    """Parameters, species names and limits of one BioThings API."""

    name: str
    prefix: str
    endpoints: dict
    species: dict[str, int]
    species_boost: dict[int, float]
    default_fields: list[str]
    parameters: dict[str, dict]
    limits: dict[str, int]
    aliases: dict[str, str] = field(default_factory=dict)

    def taxid(self, name: str) -> int | None:
        """The taxid for a common name or a numeric string, or None when unknown."""
        key = name.strip().lower()
        if key in self.species:
            return self.species[key]
        return int(key) if key.isdigit() else None

    def species_name(self, taxid: int) -> str | None:
        """The common name of a taxid (``9606`` → ``human``), or None."""
        for name, tid in self.species.items():
            if tid == taxid:
                return name
        return None

    def canonical_param(self, name: str) -> str:
        """The parameter a (possibly aliased) name stands for: ``limit`` → ``size``."""
        return self.aliases.get(name, name)


@lru_cache(maxsize=4)
def load_api(path: Path = API_PATH) -> ApiSpec:
    raw = json.loads(Path(path).read_text())
    aliases = {
        alias: name for name, spec in raw["parameters"].items() for alias in spec.get("aliases", [])
    }
    return ApiSpec(
        name=raw["name"],
        prefix=raw["prefix"],
        endpoints=raw["endpoints"],
        species=raw["species"],
        species_boost={int(k): v for k, v in raw["species_boost"].items()},
        default_fields=raw["default_fields"],
        parameters=raw["parameters"],
        limits=raw["limits"],
        aliases=aliases,
    )

"""The MyGene API described as data: endpoints, parameters, species and limits.

Loaded from ``data/schema/mygene_api.json``; the store, the query validator, the grammar and the
prompts all read this one description.

>>> api = load_api()
>>> api.taxid("human"), api.taxid("9823"), api.limits["max_size"]
(9606, 9823, 1000)
"""

from __future__ import annotations

import difflib
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
    species_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The words that name each species in a question (``murine``, ``C. elegans``)."""
    other_species_words: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Organisms without a common name in the API, by taxid (``chicken`` → 9031): MyGene
    serves them by taxid; the embedded store may hold none of their genes."""
    species_id_prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """How the ids of one species' genes start (``ENSMUSG`` → mouse, ``FBgn`` → fruitfly)."""

    def species_of_id(self, value: str) -> str | None:
        """The species an identifier belongs to by its prefix, or None.

        >>> load_api().species_of_id("ENSMUSG00000025358"), load_api().species_of_id("P24941")
        ('mouse', None)
        """
        for name, prefixes in self.species_id_prefixes.items():
            if any(value.upper().startswith(p.upper()) for p in prefixes):
                return name
        return None

    def taxid(self, name: str) -> int | None:
        """The taxid for a common name or a numeric string, or None when unknown."""
        key = name.strip().lower()
        if key in self.species:
            return self.species[key]
        # ASCII digits only ("²".isdigit() is true), and no more than a taxid can have
        return int(key) if key.isascii() and key.isdigit() and len(key) <= 10 else None

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
        species_words={name: tuple(words) for name, words in raw.get("species_words", {}).items()},
        other_species_words={
            int(taxid): tuple(words) for taxid, words in raw.get("other_species_words", {}).items()
        },
        species_id_prefixes={
            name: tuple(p) for name, p in raw.get("species_id_prefixes", {}).items()
        },
    )


# --- fields ------------------------------------------------------------------------------------

FIELDS_PATH = ROOT / "data" / "schema" / "mygene_fields.json"

SPECIAL_FIELDS = ("_id", "_score", "all")
"""Names valid in ``fields=``/``sort=`` that are not document fields (``all`` only in ``fields=``)."""

QUERY_PREFIXES: dict[str, tuple[str, ...]] = {
    "refseq": ("refseq.rna", "refseq.protein", "refseq.genomic"),
    "accession": ("accession.rna", "accession.protein", "accession.genomic"),
    "go": ("go.BP.id", "go.MF.id", "go.CC.id"),
    "GO": ("go.BP.id", "go.MF.id", "go.CC.id"),
    "reporter": ("reporter",),
    "interpro": ("interpro.id",),
    "ensemblgene": ("ensembl.gene",),
    "hgnc": ("HGNC",),
    "mim": ("MIM",),
    "mgi": ("MGI",),
    "rgd": ("RGD",),
    "hprd": ("HPRD",),
    "flybase": ("FLYBASE",),
    "wormbase": ("WormBase",),
    "zfin": ("ZFIN",),
    "tair": ("TAIR",),
    "xenbase": ("Xenbase",),
    "mirbase": ("miRBase",),
}
"""MyGene's query-string prefixes that are not plain field names, and the fields they search.

``refseq:NM_001798`` searches refseq.rna/protein/genomic (version suffix optional), ``GO:0004693``
any go.*.id, ``mgi:MGI\\:88339`` the MGI field (case-normalised). Fielded terms on object fields
(``uniprot:P24941``, ``homologene:74409``) search the object's sub-fields. ``_exists_:field`` is
handled by the query validator. See docs/MYGENE_BEHAVIOUR.md in shared/.
"""


@dataclass(frozen=True)
class FieldSpec:
    """One field of the gene documents: ``symbol`` is a searchable keyword."""

    name: str
    type: str
    indexed: bool
    description: str
    searched_by_default: bool = False
    mentions: tuple[str, ...] = ()
    """How people name the field in a question (``transcript``, ``hg19``, ``protein coding``)."""
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """A field with a fixed set of values: each value and the words that name it."""
    species: str | None = None
    """The one species whose genes carry the field (``RGD``: rat, ``FLYBASE``: fruitfly)."""
    value_pattern: str | None = None
    """A regular expression for the field's values when they are bare numbers a question
    gives after the field's name ("RGD ID 2998", "OMIM 601622")."""


@dataclass(frozen=True)
class FieldSchema:
    """The annotated field list of the gene documents, with name look-ups and suggestions.

    >>> fs = load_fields()
    >>> fs["symbol"].type, fs.is_path("go.BP"), fs.is_path("go.XX")
    ('keyword', True, False)
    >>> fs.suggest("ensemble.gene")
    ['ensembl.gene']
    """

    fields: dict[str, FieldSpec]

    def __getitem__(self, name: str) -> FieldSpec:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def names(self) -> list[str]:
        """Every field name, dotted, sorted (``go.BP.id``, ``symbol``, ...)."""
        return sorted(self.fields)

    def prefixes(self) -> set[str]:
        """Parent paths of the dotted names: ``go``, ``go.BP``, ``pathway.reactome``, ..."""
        out = set()
        for name in self.fields:
            parts = name.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return out

    def paths(self) -> set[str]:
        """Every name valid as a ``fields=`` entry: the fields and their parent paths."""
        return set(self.fields) | self.prefixes()

    def is_path(self, name: str) -> bool:
        """True for a field or a parent path (``go``, ``go.BP``, ``go.BP.id``)."""
        return name in self.fields or name in self._prefix_set

    def children(self, path: str) -> list[str]:
        """The fields under a parent path: ``children("uniprot")`` → Swiss-Prot and TrEMBL."""
        return [n for n in self.names() if n.startswith(path + ".")]

    def is_searchable(self, name: str) -> bool:
        """True when the field, or one field under the path, is indexed (so ``name:x`` can match)."""
        spec = self.fields.get(name)
        if spec is not None and spec.indexed and spec.type != "object":
            return True
        return any(self.fields[c].indexed for c in self.children(name))

    def searchable(self) -> list[str]:
        """Every field or path that can be used in ``q`` (``symbol``, ``go.BP.id``, ``uniprot``)."""
        return sorted(p for p in self.paths() if self.is_searchable(p))

    def suggest(self, name: str, candidates: list[str] | None = None, n: int = 3) -> list[str]:
        """Closest names to a misspelt one (``unipro`` → ``uniprot``), best first."""
        return suggest(
            name, self.names() + sorted(self.prefixes()) if candidates is None else candidates, n
        )

    @property
    def _prefix_set(self) -> set[str]:
        cached = self.__dict__.get("_prefixes")
        if cached is None:
            cached = self.prefixes()
            object.__setattr__(self, "_prefixes", cached)
        return cached


def suggest(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates close to ``name``: case-insensitive matches, then difflib matches,
    then names whose last dotted part matches (``transcript`` → ``ensembl.transcript``).

    >>> suggest("humann", ["human", "mouse", "rat"])
    ['human']
    >>> suggest("hgnc", ["HGNC", "MGI"])
    ['HGNC']
    """
    lower = {c.lower(): c for c in candidates}
    key = name.lower()
    tail = key.rstrip("s")
    tiers = [
        [lower[key]] if key in lower else [],
        [lower[m] for m in difflib.get_close_matches(key, list(lower), n=n, cutoff=0.85)],
        [c for c in candidates if "." in c and c.lower().rsplit(".", 1)[1].rstrip("s") == tail],
        [lower[m] for m in difflib.get_close_matches(key, list(lower), n=n, cutoff=0.6)],
    ]
    out = next((tier for tier in tiers if tier), [])
    return list(dict.fromkeys(out))[:n]


@lru_cache(maxsize=4)
def load_fields(path: Path = FIELDS_PATH) -> FieldSchema:
    """The reviewed field list of ``data/schema/mygene_fields.json``.

    >>> load_fields()["entrezgene"].description.startswith("NCBI Entrez Gene id")
    True
    """
    raw = json.loads(Path(path).read_text())
    return FieldSchema(
        {
            name: FieldSpec(
                name=name,
                type=spec["type"],
                indexed=spec["indexed"],
                description=spec["description"],
                searched_by_default=spec.get("searched_by_default", False),
                mentions=tuple(spec.get("mentions", ())),
                values={v: tuple(w) for v, w in spec.get("values", {}).items()},
                species=spec.get("species"),
                value_pattern=spec.get("value_pattern"),
            )
            for name, spec in raw.items()
        }
    )

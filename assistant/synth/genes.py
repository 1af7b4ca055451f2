"""Real genes to write questions about, drawn from the embedded store.

:class:`GeneSampler` lists, once, which genes of each species hold which fields (the store's
``present`` table, read-only), then hands out whole documents (``GeneStore.getgene``) at random
with a seeded generator, so the same seed gives the same genes.

>>> sampler = GeneSampler(GeneStore.open("data/store/genes.sqlite"), seed=0)  # doctest: +SKIP
>>> sampler.gene(9606, need=("summary",))["symbol"]                            # doctest: +SKIP
'ZNF268'
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import defaultdict

SPECIES_SHARE: dict[int, float] = {
    9606: 0.50,
    10090: 0.20,
    10116: 0.08,
    7955: 0.07,
    7227: 0.06,
    6239: 0.05,
    9823: 0.04,
}
"""How often each species is asked about (MyGene users ask mostly about human and mouse)."""

SYMBOL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-.]{0,19}$")
"""Symbols a question can carry as they are (no spaces, colons, slashes or brackets)."""

JUNK_SYMBOL = re.compile(
    r"^(LOC\d|ENS[A-Z]*G\d|[A-Z]{1,2}\d{5,6}(\.\d+)?$|si:|zgc:|im:|CG\d|CR\d|Gm\d{3,}|RGD\d|\d)",
    re.I,
)
"""Placeholder symbols people rarely ask about (LOC100..., ENSG..., CG1234)."""

POOL_FIELDS = (
    "symbol",
    "entrezgene",
    "ensembl.gene",
    "uniprot",
    "uniprot.Swiss-Prot",
    "refseq.rna",
    "HGNC",
    "MGI",
    "RGD",
    "ZFIN",
    "FLYBASE",
    "WormBase",
    "MIM",
    "alias",
    "summary",
    "go.BP",
    "go.MF",
    "go.CC",
    "pathway.reactome",
    "pathway.wikipathways",
    "homologene",
    "genomic_pos",
    "genomic_pos_hg19",
    "map_location",
    "ensembl.transcript",
    "ensembl.protein",
    "other_names",
)


RICH = "homologene"
RICH_SHARE = 0.6
"""Questions that need no particular field pick a gene with a HomoloGene group (a conserved,
studied gene) this often, since people ask about those more than about predicted loci."""


class GeneSampler:
    """Seeded random genes of a species that hold the fields a question needs."""

    def __init__(self, store, seed: int = 0):
        self.store = store
        self.rng = random.Random(seed)
        con = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
        try:
            self.taxa = {
                int(t): n
                for t, n in con.execute("SELECT taxid, count(*) FROM genes GROUP BY taxid")
                if int(t) in SPECIES_SHARE
            }
            rows = con.execute(
                "SELECT id, _id, taxid, symbol FROM genes WHERE symbol IS NOT NULL ORDER BY id"
            ).fetchall()
            good = {
                r[0]: (r[1], int(r[2]))
                for r in rows
                if int(r[2]) in SPECIES_SHARE
                and SYMBOL_RE.match(r[3] or "")
                and not JUNK_SYMBOL.match(r[3] or "")
            }
            self.pools: dict[tuple[int, str], list[str]] = defaultdict(list)
            for field in POOL_FIELDS:
                query = "SELECT gene FROM present WHERE field=? ORDER BY gene"
                if field == "symbol":
                    ids = sorted(good)
                else:
                    ids = [g for (g,) in con.execute(query, (field,)) if g in good]
                for g in ids:
                    _id, taxid = good[g]
                    self.pools[(taxid, field)].append(_id)
        finally:
            con.close()
        self._cache: dict[str, dict] = {}

    def species(self, rng: random.Random | None = None) -> int:
        """A species, weighted by :data:`SPECIES_SHARE` (only those the store holds)."""
        rng = rng or self.rng
        taxa = [t for t in SPECIES_SHARE if self.pools.get((t, "symbol"))]
        return rng.choices(taxa, weights=[SPECIES_SHARE[t] for t in taxa])[0]

    def has(self, taxid: int, need: tuple[str, ...]) -> bool:
        return all(self.pools.get((taxid, f)) for f in need)

    def doc(self, gene_id: str) -> dict:
        if gene_id not in self._cache:
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[gene_id] = self.store.getgene(gene_id)
        return self._cache[gene_id]

    def gene(
        self, taxid: int, need: tuple[str, ...] = (), rng: random.Random | None = None
    ) -> dict | None:
        """A random gene document of ``taxid`` holding every field in ``need`` (None if the
        store has none). The rarest needed field's pool is sampled; the rest are checked."""
        rng = rng or self.rng
        need = tuple(need) or ("symbol",)
        if need == ("symbol",) and self.pools.get((taxid, RICH)) and rng.random() < RICH_SHARE:
            need = (RICH,)
        pools = [self.pools.get((taxid, f), []) for f in need]
        if not all(pools):
            return None
        pool = min(pools, key=len)
        for _ in range(40):
            doc = self.doc(rng.choice(pool))
            if all(_get(doc, f) not in (None, [], {}, "") for f in need) and SYMBOL_RE.match(
                str(doc.get("symbol", ""))
            ):
                return doc
        return None

    def genes(
        self, taxid: int, n: int, need: tuple[str, ...] = (), rng: random.Random | None = None
    ) -> list[dict]:
        """``n`` distinct genes (by symbol, case-insensitively) of one species."""
        out, seen = [], set()
        for _ in range(n * 6):
            doc = self.gene(taxid, need, rng)
            if doc is None:
                break
            key = str(doc.get("symbol", "")).lower()
            if key not in seen:
                seen.add(key)
                out.append(doc)
            if len(out) == n:
                break
        return out


def _get(doc: dict, path: str):
    """The value at a dotted path (``go.BP``, ``uniprot.Swiss-Prot``), lists walked through."""
    value = doc
    for part in path.split("."):
        if isinstance(value, list):
            value = [v.get(part) for v in value if isinstance(v, dict) and v.get(part) is not None]
            value = value or None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def first(value):
    """The first item of a list value, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


get = _get

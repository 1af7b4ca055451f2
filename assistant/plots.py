"""Figures for the page: hits per species or gene type (from a query's facets) and where genes
sit on their chromosomes (an ideogram-like plot). Plain matplotlib ``Figure`` objects (no pyplot
state, so several requests can draw at once).

>>> fig = facet_figure({"taxid": {"terms": [{"term": 9606, "count": 1786},
...                                         {"term": 10090, "count": 76}]}})
>>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
['human', 'mouse']
>>> fig = ideogram([{"symbol": "CDK2", "taxid": 9606,
...                  "genomic_pos": {"chr": "12", "start": 55966781, "end": 55972789}}])
>>> fig.axes[0].get_title()
'human: CDK2 on chr12'
"""

from __future__ import annotations

import re
from typing import Any

from matplotlib.figure import Figure

from .summarize import species

CHROMOSOME_LENGTHS: dict[int, dict[str, int]] = {
    # GRCh38 (human) and GRCm39 (mouse) primary assembly chromosome lengths, in base pairs.
    9606: {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
        "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
        "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
    10090: {
        "1": 195154279, "2": 181755017, "3": 159745316, "4": 156860686, "5": 151758149,
        "6": 149588044, "7": 144995196, "8": 130127694, "9": 124359700, "10": 130530862,
        "11": 121973369, "12": 120092757, "13": 120883175, "14": 125139656, "15": 104073951,
        "16": 98008968, "17": 95294699, "18": 90720763, "19": 61420004, "X": 169476592,
        "Y": 91455967,
    },
}  # fmt: skip
"""Chromosome lengths for the species drawn whole; for others only the chromosomes holding
the genes are drawn, as long as the farthest gene end."""

FACET_FIELDS = ("taxid", "type_of_gene")
MAX_MARKERS = 10


def facet_figure(facets: dict[str, Any], top: int = 12) -> Figure | None:
    """Horizontal bar charts of the facet counts (species for ``taxid``, one panel per facet
    with more than one bucket); None when no facet has two buckets."""
    panels = []
    for name, facet in facets.items():
        terms = (facet or {}).get("terms") or []
        if len(terms) < 2:
            continue
        labels = [species(t["term"]) if name == "taxid" else str(t["term"]) for t in terms[:top]]
        panels.append((name, labels, [int(t["count"]) for t in terms[:top]]))
    if not panels:
        return None
    height = max(2.2, 0.35 * max(len(p[1]) for p in panels) + 1.2)
    fig = Figure(figsize=(4.2 * len(panels) + 1, height), layout="constrained")
    for i, (name, labels, counts) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        pos = list(range(len(labels)))[::-1]
        ax.barh(pos, counts, color="#4c78a8")
        ax.set_yticks(pos, labels)
        ax.set_xlabel("hits")
        ax.set_title("hits by species" if name == "taxid" else f"hits by {name}")
        for y, c in zip(pos, counts, strict=True):
            ax.text(c, y, f" {c:,}", va="center", fontsize=8)
        ax.margins(x=0.15)
    return fig


def positions(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{"symbol", "taxid", "chr", "start", "end"}]`` for every hit with a ``genomic_pos``
    (the first position of genes with several; alternate haplotype contigs skipped)."""
    out = []
    for hit in hits:
        pos = hit.get("genomic_pos")
        if isinstance(pos, list):
            pos = next((p for p in pos if _main_chromosome(p)), None)
        if not isinstance(pos, dict) or not _main_chromosome(pos):
            continue
        try:
            start, end = int(pos["start"]), int(pos.get("end", pos["start"]))
        except (KeyError, TypeError, ValueError):
            continue
        out.append(
            {
                "symbol": str(hit.get("symbol") or hit.get("_id") or "?"),
                "taxid": hit.get("taxid"),
                "chr": str(pos["chr"]).removeprefix("chr"),
                "start": start,
                "end": end,
            }
        )
    return out


def _main_chromosome(pos: Any) -> bool:
    return isinstance(pos, dict) and bool(
        re.fullmatch(r"(chr)?[0-9A-Za-z]{1,4}", str(pos.get("chr")))
    )


def ideogram(hits: list[dict[str, Any]]) -> Figure | None:
    """Chromosomes as bars with a marker at each gene's position (the species of the first
    positioned hit; at most ``MAX_MARKERS`` genes); None when no hit has a position."""
    found = positions(hits)
    if not found:
        return None
    taxid = found[0]["taxid"]
    genes = [g for g in found if g["taxid"] == taxid][:MAX_MARKERS]
    lengths = dict(CHROMOSOME_LENGTHS.get(_int(taxid), {}))
    for g in genes:
        if g["chr"] not in lengths:
            lengths[g["chr"]] = int(max(x["end"] for x in genes if x["chr"] == g["chr"]) * 1.05)
    names = sorted(lengths, key=_chromosome_order)
    longest = max(lengths.values())
    fig = Figure(figsize=(max(4.0, 0.42 * len(names) + 1.5), 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for x, name in enumerate(names):
        ax.bar(x, lengths[name] / 1e6, width=0.55, color="#dddddd", edgecolor="#888888")
    for g in genes:
        x = names.index(g["chr"])
        y = (g["start"] + g["end"]) / 2 / 1e6
        ax.plot([x - 0.4, x + 0.4], [y, y], color="#d62728", linewidth=2.5)
        ax.annotate(g["symbol"], (x + 0.42, y), fontsize=8, va="center", color="#d62728")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(longest / 1e6 * 1.03, 0)  # the p-arm end (position 0) at the top
    ax.set_ylabel("position (Mb)")
    where = ", ".join(dict.fromkeys(f"chr{g['chr']}" for g in genes))
    symbols = ", ".join(dict.fromkeys(g["symbol"] for g in genes))
    ax.set_title(f"{species(taxid)}: {symbols} on {where}")
    return fig


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chromosome_order(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, {"X": 0, "Y": 1}.get(name, 2 + len(name)))

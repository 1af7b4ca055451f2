"""Turn a MyGene ``q`` string into scored gene matches, the way mygene.info reads it.

Four kinds of q, tried in MyGene's order:

1. a genome interval ``chr12:55,966,781-55,972,789`` (optionally ``hg19.`` first);
2. Lucene syntax (quoted, or with ``:``, ``~``, `` AND ``, `` OR ``, ``NOT ``), parsed with luqum:
   fielded terms, phrases, booleans, ranges, wildcards, ``_exists_``;
3. a bare wildcard ``cdk*`` over symbol, name and summary;
4. a bare term, scored best-of: symbol 8, alias 5, name phrase 4, name words 3, ids 1.1, any
   text 1 (MyGene's weights; the alias tier is ours, so an alias finds its gene before genes that
   merely mention the word).

Each evaluation returns {gene row id: score}; the engine applies species boosts and filters.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from luqum import tree as T
from luqum.exceptions import ParseError
from luqum.parser import parser as lucene_parser

from ..errors import QueryError
from ..query import INTERVAL_RE, MAX_DEPTH, tree_depth
from .fields import ALL_KEYWORD_FIELDS, FTS_COLUMNS, TEXT_COLUMNS


def coordinate(text: str) -> int:
    """A genome coordinate of an interval q (``151,073,054`` → 151073054); QueryError for one
    without digits or past any chromosome (checked on the digits, before ``int()``).

    >>> coordinate("151,073,054")
    151073054
    """
    digits = text.replace(",", "").lstrip("0")
    if not text.replace(",", ""):
        raise QueryError(f"the interval coordinate {text!r} has no digits — write chr1:1000-2000")
    if len(digits) > len(str(MAX_COORDINATE)) or int(digits or 0) > MAX_COORDINATE:
        raise QueryError(
            f"interval coordinate {digits[:30]}{'...' if len(digits) > 30 else ''} is past any "
            f"chromosome (coordinates go up to {MAX_COORDINATE:,})"
        )
    return int(digits or 0)


LUCENE_HINT = re.compile(r'"|:|~| AND | OR |NOT |^\(|\[|\{|^[+-]')
WORD = re.compile(r"\w+", re.UNICODE)
MAX_CLAUSES = 1024
MAX_COORDINATE = 10_000_000_000
"""Genome coordinates above this (no chromosome is that long) are refused, not sent to SQLite."""

# MyGene's prefix rewrites: the name users write → the document fields searched.
SPECIAL_FIELDS = {
    "refseq": ("refseq.rna", "refseq.protein", "refseq.genomic"),
    "accession": (
        "accession.rna",
        "accession.protein",
        "accession.genomic",
        "refseq.rna",
        "refseq.protein",
    ),
    "go": ("go.BP.id", "go.MF.id", "go.CC.id"),
    "interpro": ("interpro.id",),
    "ensemblgene": ("ensembl.gene",),
    "ensembltranscript": ("ensembl.transcript",),
    "ensemblprotein": ("ensembl.protein",),
    "ensembl": ("ensembl.gene", "ensembl.transcript", "ensembl.protein"),
    "uniprot": ("uniprot.Swiss-Prot", "uniprot.TrEMBL"),
    "reactome": ("pathway.reactome.id",),
    "wikipathways": ("pathway.wikipathways.id",),
    "hgnc": ("HGNC",),
    "mim": ("MIM",),
    "mgi": ("MGI",),
    "rgd": ("RGD",),
    "zfin": ("ZFIN",),
    "flybase": ("FLYBASE",),
    "wormbase": ("WormBase",),
    "entrezgene": ("entrezgene",),
    "retired": ("retired",),
    "symbol": ("symbol",),
    "alias": ("alias",),
    "type_of_gene": ("type_of_gene",),
    "taxid": ("taxid",),
}
BARE_ID_FIELDS = (
    "refseq.rna", "refseq.protein", "refseq.genomic", "accession.rna", "accession.protein",
    "go.BP.id", "go.MF.id", "go.CC.id", "unigene", "ensembl.gene", "ensembl.transcript",
    "ensembl.protein", "uniprot.Swiss-Prot", "uniprot.TrEMBL", "pathway.reactome.id",
    "pathway.wikipathways.id", "HGNC", "MIM", "MGI", "retired",
)  # fmt: skip


def normalize_value(field: str, value: str) -> str:
    """Case-fold an identifier and undo the prefixes MyGene accepts (``HGNC:1771`` → ``1771``)."""
    v = value.strip().lower()
    if field.startswith("go.") and field.endswith(".id") and v.isdigit():
        return f"go:{v}"
    if field == "HGNC" and v.startswith("hgnc:"):
        return v[5:]
    if field == "MGI" and not v.startswith("mgi:"):
        return f"mgi:{v}"
    if field == "MIM" and v.startswith("mim:"):
        return v[4:]
    return v


LENGTH_NORMED_COLUMNS = ("name",)
"""Full-text columns ranked by how much of the column the terms cover (see ``Searcher.fts``)."""


def column_size(docsize: bytes, index: int) -> int:
    """The token count of column ``index`` in an FTS5 ``fts_docsize`` blob (SQLite varints, one
    per column).

    >>> column_size(bytes([0x01, 0x03, 0x7C, 0x82, 0x74]), 3)
    372
    """
    pos = 0
    for column in range(index + 1):
        value = 0
        for k in range(9):
            byte = docsize[pos]
            pos += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        if column == index:
            return value
    return 0


def fts_quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


class _NoRows:
    """A connection on which every statement matches nothing (:meth:`Searcher.check`)."""

    def execute(self, sql: str, args=()) -> list:
        return []


NO_ROWS = _NoRows()


class Searcher:
    """Evaluates q strings against one SQLite connection of the store."""

    def __init__(
        self,
        con: sqlite3.Connection,
        field_kinds: dict[str, str],
        n_genes: int,
        taxids=None,
        max_gene_length: dict[str, int] | None = None,
    ):
        self.con = con
        self.max_gene_length = max_gene_length or {}  # assembly → longest gene, bounds intervals
        self.taxids = taxids  # optional array: gene row id → taxid
        self.kinds = field_kinds  # leaf path → keyword | text | number | none; parents → object
        self.n_genes = n_genes
        self.clauses = 0
        self.sets_only = 0  # > 0 while only which genes match counts, not their scores

    # --- entry point ------------------------------------------------------------------------
    def search(self, q: str) -> dict[int, float]:
        q = q.strip()
        if not q:
            raise QueryError("q must not be empty")
        m = INTERVAL_RE.match(q)
        if m:
            return self.interval(m)
        if LUCENE_HINT.search(q):
            return self.lucene(q)
        if "*" in q or "?" in q:
            return self.bare_wildcard(q)
        return self.bare(q)

    # --- genome intervals -----------------------------------------------------------------------
    def interval(self, m: re.Match) -> dict[int, float]:
        asm = (m.group("assembly") or "").lower()
        assembly = (
            "hg19" if asm == "hg19" else "current" if asm in ("", "hg38", "mm10", "mm39") else asm
        )
        start, end = (coordinate(m.group(k)) for k in ("start", "end"))
        if end < start:
            raise QueryError(f"interval end {end:,} is before its start {start:,}")
        max_len = self.max_gene_length.get(assembly, 10_000_000)
        rows = self.con.execute(
            'SELECT gene FROM pos WHERE assembly=? AND chr=? AND start BETWEEN ? AND ? AND "end" >= ?',
            (assembly, m.group("chr").lower(), start - max_len, end, start),
        )
        return {g: 1.0 for (g,) in rows}

    # --- bare terms ---------------------------------------------------------------------------
    def bare(self, q: str) -> dict[int, float]:
        if q.isdigit():
            return {g: 1.0 for g in self.kw_lookup(("entrezgene",), q)}
        scores: dict[int, float] = {}

        def best(genes: Iterable[int] | dict[int, float], weight: float) -> None:
            items = genes.items() if isinstance(genes, dict) else ((g, 1.0) for g in genes)
            for g, s in items:
                v = weight * s
                if v > scores.get(g, 0.0):
                    scores[g] = v

        best(self.kw_lookup(("symbol",), q), 8.0)
        best(self.kw_lookup(("alias",), q), 5.0)  # "official symbol of LMP10" → PSMB10
        toks = words(q)
        if toks:
            best(self.fts("name", toks, phrase=True), 4.0)
            if len(toks) > 1:
                best(self.fts("name", toks), 3.0)
        best(self.kw_lookup(BARE_ID_FIELDS, q), 1.1)
        best(self.all_field(q), 1.0)
        return scores

    def bare_wildcard(self, q: str) -> dict[int, float]:
        pattern = q.strip()
        if pattern[0] in "*?":
            raise QueryError(f"a query cannot start with a wildcard: {q[:60]!r}")
        out = {g: 2.0 for g in self.kw_wildcard("symbol", pattern)}
        prefix = re.split(r"[*?]", pattern, maxsplit=1)[0]
        toks = words(prefix)
        if (
            toks
            and len(toks) == len(pattern.split())
            and pattern.endswith("*")
            and pattern.count("*") == 1
        ):
            for col in ("name", "summary"):
                for g, s in self.fts(col, toks, prefix_last=True).items():
                    out.setdefault(g, s)
        return out

    # --- Lucene syntax ----------------------------------------------------------------------------
    def lucene(self, q: str) -> dict[int, float]:
        if q.count('"') % 2:
            raise QueryError(f"unmatched quote in q: {q[:80]!r}")
        if q.count("(") != q.count(")"):
            raise QueryError(f"unbalanced parentheses in q: {q[:80]!r}")
        try:
            tree = lucene_parser.parse(q)
        except (ParseError, Exception) as exc:  # luqum raises several error classes
            raise QueryError(
                f"cannot parse q {q[:80]!r}: {str(exc).splitlines()[0][:120]}"
            ) from None
        depth = tree_depth(tree)
        if depth > MAX_DEPTH:
            raise QueryError(
                f"q is nested {depth} levels deep (groups and operators); at most {MAX_DEPTH}"
            )
        self.clauses = 0
        return self.eval(tree, None)

    def universe(self) -> dict[int, float]:
        if self.con is NO_ROWS:
            return {}
        return dict.fromkeys(range(1, self.n_genes + 1), 0.0)

    def eval(self, node, field: str | None) -> dict[int, float]:
        if isinstance(node, (T.AndOperation, T.UnknownOperation)):
            return self.conjunction(node.children, field)
        if isinstance(node, T.OrOperation):
            out: dict[int, float] = {}
            for child in node.children:
                if isinstance(child, (T.Not, T.Prohibit)):
                    part = self.universe()
                    for g in self.matches(child.a, field):
                        part.pop(g, None)
                else:
                    part = self.eval(child, field)
                for g, s in part.items():
                    out[g] = out.get(g, 0.0) + s
            return out
        if isinstance(node, (T.Not, T.Prohibit)):
            return self.conjunction([node], field)
        if isinstance(node, T.Plus):
            return self.eval(node.a, field)
        if isinstance(node, (T.Group, T.FieldGroup)):
            return self.eval(node.expr, field)
        if isinstance(node, T.SearchField):
            name = node.name
            if name == "_exists_":
                return self.exists(str(node.expr).strip('"'))
            return self.eval(node.expr, name if field is None else f"{field}.{name}")
        if isinstance(node, T.Boost):
            factor = float(node.force) if node.force is not None else 1.0
            return {g: s * factor for g, s in self.eval(node.expr, field).items()}
        if isinstance(node, (T.Fuzzy, T.Proximity)):
            return self.eval(node.term, field)
        if isinstance(node, T.Range):
            return self.range(field, node)
        if isinstance(node, (T.From, T.To)):
            return self.open_range(field, node)
        if isinstance(node, T.Phrase):
            return self.leaf(field, node.value[1:-1], phrase=True)
        if isinstance(node, T.Word):
            return self.leaf(field, node.value)
        if isinstance(node, T.Regex):
            raise QueryError("regular expressions are not supported in q; use wildcards (* and ?)")
        raise QueryError(f"unsupported query element: {str(node)[:60]!r}")

    def conjunction(self, children, field) -> dict[int, float]:
        taxa = [c for c in children if self.taxid_term(c, field) is not None]
        if taxa and len(taxa) < len(children):  # `... AND taxid:9606`: a filter, not a set to build
            keep = {self.taxid_term(c, field) for c in taxa}
            if len(keep) > 1:
                return {}
            rest = self.conjunction([c for c in children if c not in taxa], field)
            taxid = keep.pop()
            return {g: s + 1.0 for g, s in rest.items() if self.taxids[g] == taxid}
        positive = [c for c in children if not isinstance(c, (T.Not, T.Prohibit))]
        negative = [c.a for c in children if isinstance(c, (T.Not, T.Prohibit))]
        # fielded parts first (index lookups, usually few genes); once one part is empty the
        # AND is empty and the others are only checked for their errors, without reading rows
        first = sorted(
            range(len(positive)), key=lambda i: not isinstance(positive[i], T.SearchField)
        )
        found: dict[int, dict[int, float]] = {}
        empty = False
        for i in first:
            if empty:
                self.check(positive[i], field)
                continue
            found[i] = self.eval(positive[i], field)
            empty = not found[i]
        if empty:
            for c in negative:
                self.check(c, field)
            return {}
        parts = sorted((found[i] for i in range(len(positive))), key=len)
        if parts:
            out = dict(parts[0])
            for part in parts[1:]:
                out = {g: s + part[g] for g, s in out.items() if g in part}
        else:
            out = self.universe()
        for c in negative:
            for g in self.matches(c, field):
                out.pop(g, None)
        return out

    def check(self, node, field) -> None:
        """Evaluate ``node`` for its errors only (a part of an AND already empty): each
        statement matches nothing, so a bad part is a 400 whatever the data, at no cost."""
        con, self.con = self.con, NO_ROWS
        try:
            self.eval(node, field)
        finally:
            self.con = con

    def matches(self, node, field) -> dict[int, float]:
        """The genes ``node`` matches, scores left out (a ``NOT`` part): full text without bm25,
        five times cheaper for a common word."""
        self.sets_only += 1
        try:
            return self.eval(node, field)
        finally:
            self.sets_only -= 1

    def taxid_term(self, node, field) -> int | None:
        """The taxid of a ``taxid:9606`` clause, else None."""
        if self.taxids is None or field is not None or not isinstance(node, T.SearchField):
            return None
        value = node.expr.value if isinstance(node.expr, T.Word) else ""
        if node.name == "taxid" and value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        return None

    # --- leaves --------------------------------------------------------------------------------------
    def count_clause(self) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QueryError(f"too many clauses in q (more than {MAX_CLAUSES})")

    def unescape(self, value: str) -> str:
        return re.sub(r"\\(.)", r"\1", value)

    def resolve(self, field: str) -> list[tuple[str, str]]:
        """A field name from q → [(document path, kind)] to search."""
        key = field.lower()
        if field in self.kinds and self.kinds[field] != "object":
            return [(field, self.kinds[field])]
        if key in SPECIAL_FIELDS:
            return [(p, self.kinds.get(p, "keyword")) for p in SPECIAL_FIELDS[key]]
        if field in self.kinds:  # an object: every indexed leaf under it
            prefix = field + "."
            return [
                (p, k)
                for p, k in self.kinds.items()
                if p.startswith(prefix) and k in ("keyword", "text", "number")
            ]
        ci = {p.lower(): p for p in self.kinds}
        if key in ci:
            return self.resolve(ci[key])
        return []  # unknown field: no hits, as on mygene.info

    def leaf(self, field: str | None, raw: str, phrase: bool = False) -> dict[int, float]:
        self.count_clause()
        value = raw if phrase else self.unescape(raw)
        if field is None or field == "all":
            if not phrase and ("*" in value or "?" in value):
                return self.bare_wildcard(value)
            return self.all_field(value, phrase=phrase)
        targets = self.resolve(field)
        out: dict[int, float] = {}
        wildcard = not phrase and ("*" in value or "?" in value)
        for path, kind in targets:
            if kind == "keyword" or (kind == "number" and wildcard):
                genes = (
                    self.kw_wildcard(path, value) if wildcard else self.kw_lookup((path,), value)
                )
                for g in genes:
                    out[g] = max(out.get(g, 0.0), 1.5)
            elif kind == "number":
                try:
                    num = float(value)
                except ValueError:  # `retired` also holds retired Ensembl ids (build.write_store)
                    for g in self.kw_lookup((path,), value):
                        out[g] = max(out.get(g, 0.0), 1.5)
                    continue
                for (g,) in self.con.execute(
                    "SELECT gene FROM num WHERE field=? AND value=?", (path, num)
                ):
                    out[g] = max(out.get(g, 0.0), 1.5)
            elif kind == "text":
                toks = (
                    words(value.replace("*", " ").replace("?", " ")) if wildcard else words(value)
                )
                if toks:
                    part = self.fts(TEXT_COLUMNS[path], toks, phrase=phrase, prefix_last=wildcard)
                    for g, s in part.items():
                        out[g] = max(out.get(g, 0.0), s)
        return out

    def all_field(self, value: str, phrase: bool = False) -> dict[int, float]:
        """MyGene's ``all`` field: identifiers exactly, words in symbol/alias/name/summary."""
        out = {g: 1.5 for g in self.kw_lookup(ALL_KEYWORD_FIELDS, value)} if not phrase else {}
        toks = words(value)
        if toks:
            for g, s in self.fts("alltext", toks, phrase=phrase or len(toks) > 1).items():
                out[g] = max(out.get(g, 0.0), s)
        return out

    def exists(self, field: str) -> dict[int, float]:
        self.count_clause()
        paths = [field] if field in self.kinds else [p for p, _ in self.resolve(field)]
        out: dict[int, float] = {}
        for path in paths:
            for (g,) in self.con.execute("SELECT gene FROM present WHERE field=?", (path,)):
                out[g] = 1.0
        return out

    def _bound(self, field: str, value: str, kind: str):
        if value == "*":
            return None
        if kind == "number":
            try:
                return float(value)
            except ValueError:
                raise QueryError(f"range bound {value!r} for {field} is not a number") from None
        return normalize_value(field, value)

    def range(self, field: str | None, node: T.Range) -> dict[int, float]:
        if field is None:
            raise QueryError("a range needs a field, e.g. genomic_pos.start:[1000 TO 2000]")
        lo_inc, hi_inc = node.include_low, node.include_high
        lo, hi = str(node.low).strip('"'), str(node.high).strip('"')
        return self._range(field, lo, hi, lo_inc, hi_inc)

    def open_range(self, field: str | None, node) -> dict[int, float]:
        if field is None:
            raise QueryError("a range needs a field, e.g. entrezgene:>1000")
        value = str(node.a).strip('"')
        if isinstance(node, T.From):
            return self._range(field, value, "*", node.include, True)
        return self._range(field, "*", value, True, node.include)

    def _range(self, field: str, lo: str, hi: str, lo_inc: bool, hi_inc: bool) -> dict[int, float]:
        self.count_clause()
        out: dict[int, float] = {}
        for path, kind in self.resolve(field):
            if kind not in ("number", "keyword"):
                continue
            table = "num" if kind == "number" else "kw"
            sql, args = f"SELECT gene FROM {table} WHERE field=?", [path]
            lo_v, hi_v = self._bound(path, lo, kind), self._bound(path, hi, kind)
            if lo_v is not None:
                sql += " AND value >" + ("=" if lo_inc else "") + " ?"
                args.append(lo_v)
            if hi_v is not None:
                sql += " AND value <" + ("=" if hi_inc else "") + " ?"
                args.append(hi_v)
            for (g,) in self.con.execute(sql, args):
                out[g] = 1.0
        return out

    # --- table access ------------------------------------------------------------------------------------
    def kw_lookup(self, fields: Iterable[str], value: str) -> set[int]:
        fields = list(fields)
        genes: set[int] = set()
        values = {(f, normalize_value(f, value)) for f in fields}
        by_value: dict[str, list[str]] = {}
        for f, v in values:
            by_value.setdefault(v, []).append(f)
        for v, fs in by_value.items():
            marks = ",".join("?" * len(fs))
            rows = self.con.execute(
                f"SELECT gene FROM kw WHERE field IN ({marks}) AND value=?", (*fs, v)
            )
            genes.update(g for (g,) in rows)
        return genes

    def kw_wildcard(self, field: str, pattern: str) -> set[int]:
        pat = normalize_value(field, pattern)
        prefix = re.split(r"[*?]", pat, maxsplit=1)[0]
        if not prefix:
            raise QueryError(f"a leading wildcard is not allowed: {pattern[:60]!r}")
        glob = "".join("[" + c + "]" if c in "[]" else c for c in pat)
        following = ord(prefix[-1]) + 1  # the first code point after the prefix's last
        if 0xD800 <= following <= 0xDFFF:
            following = 0xE000  # surrogates are not text
        if following > 0x10FFFF:  # the prefix ends in the last code point: no upper bound
            rows = self.con.execute(
                "SELECT gene FROM kw WHERE field=? AND value>=? AND value GLOB ?",
                (field, prefix, glob),
            )
        else:
            rows = self.con.execute(
                "SELECT gene FROM kw WHERE field=? AND value>=? AND value<? AND value GLOB ?",
                (field, prefix, prefix[:-1] + chr(following), glob),
            )
        return {g for (g,) in rows}

    def fts(
        self, column: str, toks: list[str], phrase: bool = False, prefix_last: bool = False
    ) -> dict[int, float]:
        """FTS5 match on one column; scores in [1, 1.1]: a tie-breaker within a tier.

        FTS5's bm25 normalizes by the length of the whole row, so a well-annotated gene (long
        summary, many GO terms) would lose a ``name`` match to an obscure one. For the name
        column the tie-breaker is instead the share of the name the terms cover, as
        Elasticsearch's per-field length norm does: ``insulin`` ranks INS (name "insulin")
        above "acute insulin response". Other columns keep bm25."""
        if phrase:
            expr = fts_quote(" ".join(toks)) + ("*" if prefix_last else "")
        else:
            parts = [fts_quote(t) for t in toks]
            if prefix_last:
                parts[-1] += "*"
            expr = "(" + " AND ".join(parts) + ")"
        match = f"{column} : {expr}"
        if self.sets_only:
            rows = self.con.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (match,))
            return {g: 1.0 for (g,) in rows}
        if column in LENGTH_NORMED_COLUMNS:
            index = FTS_COLUMNS.index(column)
            rows = self.con.execute(
                "SELECT f.rowid, d.sz FROM fts f JOIN fts_docsize d ON d.id = f.rowid "
                "WHERE fts MATCH ?",
                (match,),
            )
            n = len(toks)
            return {g: 1.0 + 0.1 * min(1.0, n / max(column_size(sz, index), 1)) for g, sz in rows}
        rows = self.con.execute("SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ?", (match,))
        return {g: 1.0 + 0.1 * (-r / (1.0 - r) if r < 0 else 0.0) for g, r in rows}

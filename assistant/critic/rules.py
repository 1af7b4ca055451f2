"""The rules, in the order :data:`assistant.critic.RULES` runs them: each reads one thing
from the question and, when the query disagrees, changes only that part."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from functools import lru_cache

from ..query import INTERVAL_RE, Query, parse_lucene, render_lucene, walk
from ..recover import fix_copied_terms, plain_words
from ..schema import load_api, load_fields
from .base import Context, _set_child, _tree, _with
from .reading import (
    ALPHA,
    ANY_SPECIES,
    BREAKDOWN,
    BY_SPECIES,
    CALLED,
    CHROM,
    COMMON_CAPITALS,
    COUNT,
    EVERYTHING,
    EXAMPLES,
    EXTREME,
    FAMILY,
    HG19,
    HG38,
    IN_THE_NAME,
    ORDINALS,
    PAGE_NO,
    PER_PAGE,
    RESULTS_SPAN,
    SKIP,
    SORT_BY,
    SORT_WORDS,
    SORTABLE,
    STARTS,
    SYMBOLISH,
    TEXT_FIELDS,
    TOP_N,
    as_written,
    batch_field,
    fields_named,
    gene_terms,
    id_field,
    interval_in,
    missing_terms,
    species_implied,
    species_named,
    squash,
)


def rule_ids(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An identifier searched in the field of another kind of identifier (``ensembl.gene:ENST…``)
    moves to its own field; a bare number in a text field (``refseq:7157``) is an Entrez id."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    changes = []

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if type(child) is t.Word and not isinstance(node, t.SearchField):
                shape = id_field(child.value)
                if shape and shape != "go":  # a bare id: searched in its own field
                    _set_child(node, i, t.SearchField(shape, t.Word(child.value)))
                    changes.append(f"{child.value} → {shape}:{child.value}")
        if isinstance(node, t.SearchField) and type(node.expr) is t.Word:
            value = node.expr.value
            shape = id_field(value)
            if shape and not (shape == node.name or shape.startswith(node.name + ".")):
                if not (node.name.startswith(shape.split(".")[0]) and "." not in node.name):
                    changes.append(f"{node.name}:{value} → {shape}:{value}")
                    node.name = shape
            elif value.isdigit() and node.name.split(".")[0] in TEXT_FIELDS:
                changes.append(f"{node.name}:{value} → entrezgene:{value}")
                node.name = "entrezgene"
        for child in node.children:
            visit(child)

    root = t.Group(tree)
    visit(root)
    if not changes:
        return None
    return replace(query, q=render_lucene(root.expr)), "; ".join(changes) + " (the id's own field)"


def rule_batch(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A list of ids or symbols written as a GET query (``q=ENSG…,ENSG…``) is a batch: a POST
    (whose scopes :func:`rule_scopes` sets); a batch term the question does not contain is
    the question's closest word (``AT`` for ATM, as :func:`rule_terms` does for one term)."""
    if query.endpoint != "query":
        return None
    q = (query.q or "").strip()
    if query.method == "GET":
        terms = [x.strip() for x in q.split(",") if x.strip()]
        if len(terms) < 2 or any(re.search(r"[\s:\"()*]", x) for x in terms):
            return None
        keep = {k: v for k, v in query.params.items() if k in ("fields", "species", "scopes")}
        new = Query("query", "POST", q=",".join(terms), params=keep)
        return new, f"a list of {len(terms)} terms is a batch (POST)"
    fixed = fix_copied_terms(question, query)
    if fixed is not None:
        return fixed
    terms = [x.strip() for x in q.split(",") if x.strip()]
    words = {w.lower(): w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", question)}
    have = {x.lower() for x in terms}
    swaps = {}
    for term in terms:  # a short symbol cut by a letter (AT for ATM): fix_copied_terms skips them
        if len(term) == 2 and term.lower() not in words:
            longer = [
                w for low, w in words.items() if len(low) == 3 and low.startswith(term.lower())
            ]
            if len(longer) == 1 and longer[0].lower() not in have:
                swaps[term] = longer[0]
    if not swaps:
        return None
    new_q = ",".join(swaps.get(x, x) for x in terms)
    return replace(query, q=new_q), "; ".join(
        f"{a} is not in the question but {b} is" for a, b in swaps.items()
    )


QUOTED = re.compile(r"(?:^|[\s(:])[\"'“‘]([^\"'“”‘’]{3,80}?)[\"'”’](?=[\s,.?!;:)]|$)")


def rule_quoted_name(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A name of several words the question quotes ("the mouse gene 'triggering receptor
    expressed on myeloid cells 2'") is searched as that phrase when the query lost it."""
    if query.endpoint not in ("query", "gene") or query.method != "GET":
        return None
    in_name = [m.group(1) for m in IN_THE_NAME.finditer(question)]
    if len(in_name) == 1:
        return _name_word(query, in_name[0])
    quoted = [m for m in QUOTED.findall(question) if len(m.split()) >= 2]
    if len(quoted) != 1:
        return None
    phrase = quoted[0].strip()
    if squash(phrase) in squash(query.q or ""):
        return None
    params = {k: v for k, v in query.params.items() if k != "ids"}
    new = Query("query", "GET", q=f'name:"{phrase}"', params=params)
    return new, f'the question quotes the name "{phrase}"'


def _name_word(query: Query, word: str) -> tuple[Query, str] | None:
    """``query`` searching ``name:word`` in place of its name clause (or besides its other
    clauses), unless it searches the word already."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None or word.lower() in re.findall(r"[a-z0-9-]+", (query.q or "").lower()):
        return None
    top = list(tree.children) if isinstance(tree, (t.AndOperation, t.UnknownOperation)) else [tree]
    names = [i for i, n in enumerate(top) if isinstance(n, t.SearchField) and n.name == "name"]
    new = t.SearchField("name", t.Word(word.lower()))
    if len(names) == 1:
        old = render_lucene(top[names[0]])
        top[names[0]] = new
        note = f"the question asks for {word} in the name: name:{word.lower()} (not {old})"
    else:
        top.insert(0, new)
        note = f"the question asks for {word} in the name: name:{word.lower()} added"
    q = " AND ".join(render_lucene(n) for n in top)
    return replace(query, q=q), note


def rule_phrases(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A symbol written as a one-word phrase (``"cdc2"``, ``name:"sox2"``) is searched as a
    term, so an official symbol ranks above names that mention it."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    changed = []

    called = {m.group(1).lower() for m in CALLED.finditer(question)}

    in_name = {m.group(1).lower() for m in IN_THE_NAME.finditer(question)}
    species = query.params.get("species") or "human"

    def single(node) -> str | None:
        if isinstance(node, t.Phrase):
            inner = node.value.strip('"').strip()
            if (
                inner
                and " " not in inner
                and (SYMBOLISH.match(as_written(question, inner)) or inner.lower() in called)
            ):
                return inner
        return None

    def alias(node) -> str | None:
        """A one-word name that is a gene's alias ("parkin", "ob"): the gene people call so."""
        inner = node.value.strip('"').strip() if isinstance(node, (t.Phrase, t.Word)) else ""
        if not inner or " " in inner or inner.lower() in in_name or "*" in inner:
            return None
        return inner if ctx.is_alias(inner, species) else None

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if isinstance(child, t.SearchField) and child.name in ("name", "other_names"):
                inner = single(child.expr)
                if inner:
                    _set_child(node, i, t.Word(inner))
                    changed.append(f'{child.name}:"{inner}" → {inner}')
                    continue
                inner = alias(child.expr) if isinstance(child.expr, t.Phrase) else None
                if inner:
                    _set_child(node, i, t.SearchField("alias", t.Word(inner.lower())))
                    changed.append(f'{child.name}:"{inner}" → alias:{inner.lower()}')
                    continue
            inner = single(child)
            if inner and not isinstance(node, t.SearchField):
                _set_child(node, i, t.Word(inner))
                changed.append(f'"{inner}" → {inner}')
                continue
            visit(child)

    root = t.Group(tree)
    visit(root)
    if not changed:
        return None
    new_q = render_lucene(root.expr)
    return replace(query, q=new_q), "; ".join(
        changed
    ) + " (a gene's own name, not a phrase of names)"


def rule_interval(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The interval the question names, in bases (``12.5 Mb`` is 12,500,000), on its assembly
    (``hg19.`` when the question says hg19/GRCh37); a bare ``chr21`` is a chromosome."""
    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q:
        return None
    found = interval_in(question)
    m = INTERVAL_RE.match(q)
    asked_hg19 = bool(HG19.search(question)) and not HG38.search(question)
    if m:
        asm = m.group("assembly")
        chrom, start, end = m.group("chr"), m.group("start"), m.group("end")
        new_chrom, new_start, new_end = chrom, start.replace(",", ""), end.replace(",", "")
        if found:
            new_chrom = found[0] or chrom
            new_start, new_end = str(found[1]), str(found[2])
        elif int(end.replace(",", "")) < 10_000 and not _in_question(question, end):
            said = CHROM.search(question)
            if said:  # numbers the question never gave: the question asks for a chromosome
                name = said.group(1).upper()
                return replace(query, q=f"genomic_pos.chr:{name}"), (
                    f"the question names chromosome {name}, not the interval {q}"
                )
        new_asm = asm
        if asked_hg19 and not asm:
            new_asm = "hg19"
        elif asm and asm.lower() == "hg19" and not asked_hg19:
            new_asm = None  # the current assembly unless the question says the old one
        new_q = (f"{new_asm}." if new_asm else "") + f"chr{new_chrom}:{new_start}-{new_end}"
        if new_q.replace(",", "").lower() == q.replace(",", "").lower():
            return None
        return replace(query, q=new_q), f"the question's interval is {_interval_words(new_q)}"
    bare_chr = re.fullmatch(
        r"(?:genomic_pos\.chr:|chr(?:omosome)?)\s*([0-9]{1,2}|X|Y|MT?)", q, re.I
    )
    if found and found[0] and not bare_chr and not _searches_a_field(q, gene_terms(question)):
        new_q = ("hg19." if asked_hg19 else "") + f"chr{found[0]}:{found[1]}-{found[2]}"
        return replace(query, q=new_q), (
            f"the question asks for the interval {_interval_words(new_q)}, which {q} is not"
        )
    if bare_chr and found and found[0] in (None, bare_chr.group(1).upper()):
        chrom = bare_chr.group(1).upper()
        new_q = ("hg19." if asked_hg19 else "") + f"chr{chrom}:{found[1]}-{found[2]}"
        return replace(query, q=new_q), f"the question names the interval {_interval_words(new_q)}"
    if bare_chr and q.lower().startswith("chr") and not found:
        new_q = f"genomic_pos.chr:{bare_chr.group(1).upper()}"
        return replace(query, q=new_q), f"{q} is chromosome {bare_chr.group(1).upper()}"
    return None


def _searches_a_field(q: str, terms: list[str]) -> bool:
    """``q`` searches a field term (other than a position) or one of the gene ``terms``: a
    query to keep, not a mangled interval (``hg18.chr17310000-31400000``)."""
    squashed = squash(q)
    if any(squash(x) in squashed for x in terms):
        return True
    tree = parse_lucene(q)
    if tree is None:
        return False
    fields = load_fields()
    return any(
        fields.is_path(node.name) and not node.name.startswith("genomic_pos")
        for node in walk(tree, "SearchField")
    )


def _in_question(question: str, number: str) -> bool:
    """``number`` (digits, maybe with commas) is written in the question, in any grouping."""
    digits = number.replace(",", "")
    return digits in re.sub(r"(?<=\d),(?=\d)", "", question)


def _interval_words(q: str) -> str:
    m = INTERVAL_RE.match(q)
    assert m is not None
    asm = f" ({m.group('assembly')})" if m.group("assembly") else ""
    return f"chr{m.group('chr')}:{int(m.group('start')):,}-{int(m.group('end')):,}{asm}"


_ANYTHING = re.compile(r"\b(?:anything|any (?:field|term|word|text)|everything)\b", re.I)
_DESCENDING = re.compile(r"\b(?:descending|desc|reverse(?:d)?|z to a|z-a)\b", re.I)
NOT_FAMILIES = (
    "all", "the", "these", "those", "some", "many", "any", "other", "more", "which", "what",
    "coding", "related", "similar", "known", "new", "human", "mouse", "rat", "fly", "worm",
    "fish", "pig", "candidate", "target", "marker", "housekeeping", "reference", "disease",
)  # fmt: skip
"""Words before "genes" that say which genes, not how their symbols start."""
FAMILY_MIN = 3
"""Genes whose symbols start with a word before "genes" make it a family (HOX, Olfr, KRT)."""

_EXAMPLE_LIST = re.compile(
    r"([A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*)+)"
    r"\s*,?\s*(?:\.\.\.|…|etc\b)"
)


def example_prefixes(question: str) -> list[str]:
    """The common start of symbols listed as examples of a family ("H2BC1, H2BC3, ..." →
    ``H2BC``; "unc-1, unc-2, etc." → ``unc-``), at least two characters.

    >>> example_prefixes("human histone H2B genes (H2BC1, H2BC3 ...)")
    ['H2BC']
    """
    out = []
    for m in _EXAMPLE_LIST.finditer(question):
        names = [n.strip() for n in m.group(1).split(",")]
        prefix = os.path.commonprefix([n.lower() for n in names])
        prefix = re.sub(r"\d+$", "", prefix) if len(set(names)) > 1 else prefix
        if len(prefix) >= 2:
            out.append(names[0][: len(prefix)])
    return out


def rule_wildcard(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """ "genes starting with KRT", "the HOX genes", "unc-1, unc-2, …": a family of symbols,
    searched as ``symbol:KRT*``, when the query wrote the prefix as a plain word."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    prefixes = {
        (m.group(1) or m.group(2)).lower().rstrip("-"): m.group(1) or m.group(2)
        for m in STARTS.finditer(question)
        if not _ANYTHING.search(question[: m.start()])  # "anything starting with": all fields
    }
    species = query.params.get("species")
    plain = {w.value.rstrip("*").lower() for w in plain_words(tree)}  # words, fielded or not
    plain |= {p.value.strip('"').strip().lower().rstrip("-") for p in walk(tree, "Phrase")}
    for m in FAMILY.finditer(question):
        for word in filter(None, m.groups()):
            key = word.lower().rstrip("-")
            if key in NOT_FAMILIES or len(key) < 3 or key not in plain:
                continue
            if word.upper() in COMMON_CAPITALS or _type_lookup().get(key):
                continue  # (only a word the query searches is asked about: no needless request)
            written = SYMBOLISH.match(word) or (
                word[0].isupper() and m.start() > 0 and word[1:].islower()
            )
            if any(c.isdigit() for c in word) and (
                ctx.is_symbol(word, species)
                or ctx.is_alias(word, species)
                and not ctx.total(f"alias:{key} AND symbol:{key}*", species)
            ):
                continue  # "the CD16 genes": the genes called CD16 (FCGR3A/B), not CD160, …
            # "the HOX genes" implies a family; "the GPCR genes" does not: ask the data (which
            # also allows a word in lower case, "wnt genes")
            n = ctx.count_symbols(key, species)
            if written if n is None else n >= FAMILY_MIN:
                prefixes.setdefault(key, word)
    for m in EXAMPLES.finditer(question):
        prefixes.setdefault(m.group(1).lower().rstrip("-"), m.group(1))
    for prefix in example_prefixes(question):
        prefixes.setdefault(prefix.lower().rstrip("-"), prefix)
    if not prefixes:
        return None
    dash = {
        p
        for p in prefixes
        if re.search(rf"\b{re.escape(p)}-(?:\d|\s|\.|…|$)", question, re.I)
        or prefixes[p].endswith("-")
    }
    changed = []

    def visit(node):
        for i, child in enumerate(list(node.children)):
            target = child.expr if isinstance(child, t.SearchField) else child
            name = child.name if isinstance(child, t.SearchField) else None
            word = type(target) is t.Word or (
                isinstance(target, t.Phrase) and " " not in target.value.strip('"').strip()
            )
            if word and name in (None, "symbol", "name", "alias", "type_of_gene"):
                value = target.value.strip('"').strip().rstrip("*").lower().rstrip("-")
                value = value.removesuffix("-prefixed").removesuffix("-prefix")
                starred = name == "symbol" and target.value.endswith("*")
                undashed = value in dash and not target.value.rstrip("*").endswith("-")
                typed = name == "type_of_gene" and _type_lookup().get(value)
                if value in prefixes and (not starred or undashed) and not typed:
                    new = f"{value}{'-' if value in dash else ''}*"
                    _set_child(node, i, t.SearchField("symbol", t.Word(new)))
                    changed.append(f"{target.value} → symbol:{new}")
                    continue
            if not isinstance(child, t.SearchField):
                visit(child)

    root = t.Group(tree)
    visit(root)
    if not changed:
        return None
    return replace(query, q=render_lucene(root.expr)), (
        "; ".join(changed) + " (the question asks for a family of symbols)"
    )


@lru_cache(maxsize=1)
def _type_lookup() -> dict[str, str]:
    """Words for gene types (``pseudogene``, ``lncRNA``) → the value ``type_of_gene`` holds."""
    spec = load_fields().fields.get("type_of_gene")
    lookup: dict[str, str] = {}
    for value, words in (spec.values if spec else {}).items():
        lookup[value.lower()] = value
        for w in words:
            lookup[w.lower().replace(" ", "-")] = value
            lookup[w.lower().replace(" ", "")] = value
    return lookup


TYPE_WORDS_NOT_PLAIN = ("other", "unknown", "coding")
"""Type values too common as plain words to read a bare one as a gene type."""

GENERIC_TERMS = ("gene", "genes", "locus", "loci")
"""Words that name no gene: a clause of a conjunction searching one of them is dropped."""


def rule_types(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """Gene types as the field describes them: a plain ``pseudogenes`` (or ``symbol:snorna``)
    is ``type_of_gene:pseudo``; a ``type_of_gene:kinase`` that is no gene type is a name word;
    a species or ``gene`` searched as a term is no term (the species is a filter)."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    lookup = _type_lookup()
    named = {w.lower(): s for s in species_named(question) for w in _species_words(s)}

    def known(word: str) -> str | None:
        w = word.lower().strip('"')
        return lookup.get(w) or lookup.get(w.rstrip("s")) or lookup.get(w.removesuffix("es"))

    def plain_type(word: str) -> str | None:
        value = known(word)
        if value is None or word.lower().rstrip("s") in TYPE_WORDS_NOT_PLAIN:
            return None
        return None if SYMBOLISH.match(as_written(question, word)) else value

    changed: list[str] = []
    drop: list[int] = []
    top = tree.children if isinstance(tree, t.AndOperation) else [tree]

    def term_of(node) -> tuple[str | None, str | None]:
        if isinstance(node, t.SearchField) and type(node.expr) is t.Word:
            return node.name, node.expr.value
        if type(node) is t.Word:
            return None, node.value
        return None, None

    for i, node in enumerate(top):
        name, value = term_of(node)
        if value is None:
            continue
        low = value.lower()
        if name is None and low in ("dna", "rna") and len(top) > 1:
            drop.append(i)  # left from "non-coding RNA" or "mitochondrial DNA"
            changed.append(f"dropped {value} (not a gene term)")
            continue
        if (low in named or low in GENERIC_TERMS) and name not in ("genomic_pos.chr", "taxid"):
            if len(top) > 1:
                drop.append(i)
                changed.append(f"dropped {node} ({value} is not a gene term)")
            else:  # the only term: every gene of the species (named, or the query's one)
                species = named.get(low) or query.params.get("species", "")
                taxid = load_api().taxid(species)
                if taxid is None:
                    continue
                top[i] = t.SearchField("taxid", t.Word(str(taxid)))
                changed.append(f"{render_lucene(node)} → taxid:{taxid} (all {species} genes)")
    if drop:
        top = [n for i, n in enumerate(top) if i not in drop]

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if isinstance(child, t.SearchField):
                if type(child.expr) is not t.Word or "*" in child.expr.value:
                    continue
                v = child.expr.value
                if child.name == "type_of_gene":
                    value = known(v)
                    if value is None:
                        _set_child(node, i, t.SearchField("name", t.Word(v)))
                        changed.append(f"type_of_gene:{v} → name:{v}")
                    elif value != v:
                        _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                        changed.append(f"type_of_gene:{v} → type_of_gene:{value}")
                elif child.name in ("symbol", "alias", "name") and (value := plain_type(v)):
                    _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                    changed.append(f"{child.name}:{v} → type_of_gene:{value}")
                continue
            if type(child) is t.Word and (value := plain_type(child.value)):
                _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                changed.append(f"{child.value} → type_of_gene:{value}")
                continue
            visit(child)

    root = t.Group(top[0] if len(top) == 1 else t.AndOperation(*top))
    visit(root)
    if not changed:
        return None
    return replace(query, q=render_lucene(root.expr)), "; ".join(changed) + " (gene types)"


def _species_words(name: str) -> tuple[str, ...]:
    return (name, *load_api().species_words.get(name, ()))


def rule_question_ids(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An identifier the question gives (``WP179``, ``ENST…``) that the query does not search
    takes the place of the query's term of the same family (or of its only term)."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    ids = []
    for tok in re.findall(r"[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]", question):
        shape = id_field(tok)
        if shape:
            ids.append((tok, shape))
    if len(ids) != 1:
        return None
    value, shape = ids[0]
    family = shape.split(".")[0]
    top = tree.children if isinstance(tree, t.AndOperation) else [tree]
    for node in top:  # already searched as itself, in its field or in all fields
        field_name = node.name if isinstance(node, t.SearchField) else None
        word = node.expr if isinstance(node, t.SearchField) else node
        text = f"{field_name}:{word.value}" if type(word) is t.Word and field_name else ""
        if type(word) is t.Word and value.lower() in (word.value.lower(), text.lower()):
            if field_name is None or field_name.split(".")[0].lower() in (family, "all", "go"):
                return None
    same = [
        i
        for i, n in enumerate(top)
        if isinstance(n, t.SearchField) and n.name.split(".")[0] == family
    ]
    if len(same) == 1:
        i = same[0]
    elif len(top) == 1:
        i = 0
    else:
        return None
    old = render_lucene(top[i])
    top = list(top)
    if shape == "go":  # GO:0006915 is MyGene's own syntax for a GO id
        top[i] = t.SearchField("GO", t.Word(value.split(":", 1)[1]))
    else:
        top[i] = t.SearchField(shape, t.Word(value))
    new_q = render_lucene(top[0] if len(top) == 1 else t.AndOperation(*top))
    return replace(query, q=new_q), f"the question gives {value}: {old} → {shape}:{value}"


def rule_species(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The species the question names in ``species`` (added, or put in place of another);
    none at all when it asks across species."""
    if query.endpoint != "query":
        return None
    said = query.params.get("species")
    if ANY_SPECIES.search(question):
        if said and said != "all":
            return _with(query, species=None), "the question asks across all species"
        return None
    named = species_named(question) or species_implied(question)
    if not named or "taxid" in query.params.get("facets", "") and BY_SPECIES.search(question):
        return None  # (a count per species is across species)
    api = load_api()
    have = [s.strip() for s in (said or "").split(",") if s.strip()]
    have_ids = {api.taxid(s) for s in have}
    named_ids = {api.taxid(s) for s in named}
    if have_ids & named_ids or "all" in have:
        return None
    if len(named) != 1:
        return None  # "the mouse ortholog of human X": the query's choice stands
    said_as = f"taxid {named[0]}" if named[0].isdigit() else named[0]
    if not have:
        return _with(query, species=named[0]), f"the question is about {said_as} genes"
    return _with(query, species=named[0]), f"the question names {said_as}, not {said}"


def rule_count(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """``size=0`` only counts: a question that does not ask how many gets the genes."""
    if query.params.get("size") != "0" or COUNT.search(question):
        return None
    if "facets" in query.params and BREAKDOWN.search(question):
        return None  # "break down by type": the facets are the answer
    drop = {"size": None}
    if "facets" in query.params and not BREAKDOWN.search(question):
        drop["facets"] = None
    return _with(query, **drop), "the question asks for genes, not a count"


def rule_paging(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """``size`` and ``from`` where the question puts them: "the second page of 20" is
    ``size=20&from=20``, "pages of 20, first page" only ``size=20``, "top 5" ``size=5``."""
    if query.endpoint != "query" or query.method != "GET" or COUNT.search(question):
        return None
    per = PER_PAGE.search(question)
    page = PAGE_NO.search(question)
    skip = SKIP.search(question)
    size = query.params.get("size")
    start = query.params.get("from")
    new_size, new_from = size, start
    span = RESULTS_SPAN.search(question)
    if span and not page and not per and 1 <= int(span.group(1)) < int(span.group(2)):
        a, b = int(span.group(1)), int(span.group(2))
        new_size, new_from = str(b - a + 1), (str(a - 1) if a > 1 else None)
    elif per:
        new_size = next(g for g in per.groups() if g)
    elif skip and not page:
        new_from = skip.group(1)
    elif not page:
        top = TOP_N.search(question)
        if top and int(top.group(1)) <= load_api().limits.get("max_size", 1000):
            new_size = top.group(1)
    if page:
        word, number = page.groups()
        n = int(number) if number else ORDINALS.get(word.lower()) or int(word[:-2])
        per_page = int(new_size or 10)
        new_from = str((n - 1) * per_page) if n > 1 else None
        if n > 1 and not per and not size:
            new_size = str(per_page)
    if (new_size, new_from) == (size, start) or (
        new_from is None and start == "0" and new_size == size
    ):
        return None
    note = []
    if new_size != size:
        note.append(f"size={new_size}")
    if new_from != start:
        note.append(f"from={new_from}" if new_from else f"no from (was {start})")
    return _with(query, size=new_size, **{"from": new_from}), "paging as asked: " + ", ".join(note)


def rule_sort(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """ "alphabetically" sorts by symbol; "the highest Entrez ids" by ``-entrezgene``."""
    if query.endpoint != "query" or query.method != "GET":
        return None
    want = None
    m = EXTREME.search(question)
    if m:
        desc = m.group(1).lower() in ("highest", "largest", "biggest", "greatest", "newest")
        desc = desc or m.group(1).lower() == "most recent"
        want = ("-" if desc else "") + "entrezgene"
    elif sort_by := SORT_BY.search(question):
        named = [f for f in fields_named(sort_by.group(1)) if f in SORTABLE]
        want = named[0] if named else None
    if want is None and ALPHA.search(question):
        want = "name" if re.search(r"\bby (?:full )?name\b", question, re.I) else "symbol"
    if want and not want.startswith("-") and _DESCENDING.search(question):
        want = "-" + want
    have = query.params.get("sort")
    if want is None and have and not SORT_WORDS.search(question):
        return _with(
            query, sort=None
        ), f"the question asks for no order (the query sorted by {have})"
    if want is None and have and have.lstrip("-") == "genomic_pos":
        want = have + ".start"  # a position sorts by where the gene starts
    if want == "genomic_pos" or want == "-genomic_pos":
        want += ".start"
    if want is None or have == want:
        return None
    return _with(query, sort=want), f"sorted by {want.lstrip('-')}" + (
        " (descending)" if want.startswith("-") else ""
    )


def rule_scopes(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A batch (POST) without ``scopes`` gets the fields its terms' shapes say (numbers:
    entrezgene; ENSG…: ensembl.gene; NM_…: refseq; symbols: symbol and alias)."""
    if query.method != "POST" or query.endpoint != "query":
        return None
    terms = [t.strip() for t in (query.q or "").split(",") if t.strip()]
    if not terms:
        return None
    given = query.params.get("scopes")
    if given:
        shapes = [batch_field(t) for t in terms]
        if not all(shapes) or any(s.split(".")[0] in given for s in shapes if s):
            return None  # symbols, or ids already in their scope
    scopes: list[str] = []
    for term in terms:
        shape = batch_field(term)
        if shape and shape.startswith("refseq"):
            shape = "refseq"
        elif shape is None:
            shape = "symbol,alias"
        for s in shape.split(","):
            if s not in scopes:
                scopes.append(s)
    value = ",".join(scopes)
    return _with(query, scopes=value), f"the batch's terms are searched in {value}"


def rule_fields(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The fields the question asks for (through the field schema's ``mentions``) are in
    ``fields``: added, or in place of a sibling of the same family the question did not ask
    for (``ensembl.gene`` → ``ensembl.transcript``); "everything" is ``fields=all``."""
    from ..metrics import field_covered, field_set

    if query.endpoint not in ("query", "gene") or query.params.get("size") == "0":
        return None
    if query.method == "GET" and query.endpoint == "query" and not (query.q or "").strip():
        return None
    have = query.field_list()
    if EVERYTHING.search(question):
        if "all" in have or (query.endpoint == "gene" and not have):
            return None
        return _with(query, fields="all"), "the question asks for the whole record"
    named = fields_named(question)
    if not named:
        return None
    if not have:
        if query.endpoint == "gene":
            return None  # /gene returns every field
        have = list(load_api().default_fields)
    returned = field_set(_with(query, fields=",".join(have)))
    missing = [f for f in named if not field_covered(returned, f)]
    if not missing:
        return None
    new = list(have)
    for f in missing:
        family = f.split(".")[0]
        sibling = next(
            (
                h
                for h in new
                if "." in h
                and "." in f
                and h.split(".")[0] == family
                and not any(field_covered(frozenset([h]), n) for n in named)
            ),
            None,
        )
        if sibling is not None:
            new[new.index(sibling)] = f
        else:
            new.append(f)
    new = list(dict.fromkeys(new))
    return _with(query, fields=",".join(new)), "the question asks for " + ", ".join(missing)


def rule_terms(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A query that searches none of the question's gene terms, because it copied one wrong
    (``ckd2`` for CDK2), gets the question's closest word back (as
    :func:`assistant.recover.fix_copied_terms` does after a query finds nothing)."""
    if not missing_terms(question, query):
        return None
    return fix_copied_terms(question, query)


def rule_tidy(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A clause the query searches twice in one AND (``symbol:cdk* AND symbol:cdk*``, often
    left by two repairs meeting) is searched once."""
    from luqum import tree as t

    tree = _tree(query)
    if not isinstance(tree, t.AndOperation):
        return None
    seen, kept = set(), []
    for child in tree.children:
        key = render_lucene(child).lower()
        if key not in seen:
            seen.add(key)
            kept.append(child)
    if len(kept) == len(tree.children):
        return None
    new_q = render_lucene(kept[0] if len(kept) == 1 else t.AndOperation(*kept))
    return replace(query, q=new_q), "a clause searched twice is searched once"

"""The deterministic instruction writer of ``datagen``: instructions from a query's structure.

No model: a query is first described (:func:`describe`) as the genes it is about (a symbol, an
id of a known kind, a term, a GO term, an interval, a batch of POST terms...), the species, the
fields it asks for, and its size / paging / sorting / counting / facets; then each persona of
:data:`PERSONAS` (terse, polite, lab biologist, bioinformatician, student, and the
"Retrieve the ... for ..." instruction style) writes one sentence from that description. Every
sentence must pass :func:`~.instructions.check_instruction` (the model writer's checks) and
:func:`check_mentions` (it names every requested field and every number of the query); the
first ``per_query`` that pass, in a rotation fixed by the query, are kept.

The words come from the synthetic generator (:mod:`assistant.synth`): identifier names
(:data:`assistant.synth.vocab.ID_WORDS`), attribute words (:data:`assistant.synth.base.ATTRS`)
and species names (:data:`assistant.synth.vocab.SPECIES_WORDS`), so log pairs and synthetic
pairs name things alike. What the generator has no intent for (a field or ``q`` field it never
asks about, a parameter it never sets) is returned as ``uncovered`` reasons, which the run
reports so the generator can learn the shape; a query the writer cannot put into words at all
(an unknown parameter, regex or fuzzy syntax) raises :class:`Uncovered` and gets no
instructions.

>>> from assistant.query import parse_query
>>> for persona, text in write(parse_query(
...         "/v3/query?q=TP53&species=human&fields=symbol,entrezgene,ensembl.gene"))[:2]:
...     print(persona, "|", text)
retrieve | Retrieve the symbol, Entrez gene ID, and Ensembl gene ID for human genes that have anything to do with TP53.
terse | Symbol, Entrez gene ID, and Ensembl gene ID for human genes that have anything to do with TP53
>>> describe(parse_query("/v3/gene/1017?fields=symbol,pantherdb")).uncovered
['unusual_field pantherdb']
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from ..errors import AssistantError
from ..query import INTERVAL_RE, Query, parse_lucene, parse_query
from ..schema import QUERY_PREFIXES, load_api, load_fields
from ..summarize import GO_NAMES as GO_WORDS
from ..summarize import PATHWAY_NAMES as PATHWAY_WORDS
from ..synth import gene_intents, vocab
from ..synth.base import ATTRS, LIST_FIELDS, WHICH_GENE_FIELDS
from .extract import SPECIES_WORDS as EXTRACT_SPECIES_WORDS
from .extract import Candidate, entities
from .instructions import Outcome, check_instruction, explain
from .report import Report

WRITER = "template"
"""The ``writer`` recorded in the work file and in each pair's extra keys."""

DEFAULT_PER_QUERY = 3
"""Instructions kept per query (each in a different persona's style)."""


class Uncovered(AssistantError):
    """A query the deterministic writer cannot put into words; ``reasons`` says why
    (``unknown_parameter facet_size``, ``unsupported_q_syntax Regex``)."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


# --- words ------------------------------------------------------------------------------------


def _id_case(word: str) -> str:
    """``Entrez gene id`` → ``Entrez gene ID`` (``GeneID`` and ``ids`` are left alone)."""
    return re.sub(r"\bid\b", "ID", re.sub(r"\bids\b", "IDs", word))


def _usable(word: str) -> bool:
    """Synth words that fit any gene of any species (``ENSG id`` is human only, ``NM_`` is
    query-like)."""
    if re.match(r"^(?:entrez|uniprot)\b", word) or word in ("Ensembl gene", "GeneID"):
        return False  # a brand in lowercase, or no word for what the value is
    return "ENSG" not in word and "_" not in word and "FBgn" not in word and "WBGene" not in word


FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "official symbol", "gene symbol"),
    "name": ("full name", "official full name", "gene name"),
    "taxid": ("taxonomy ID", "NCBI taxonomy ID", "species taxid"),
    "entrezgene": ("Entrez gene ID",),
    "ensembl.gene": ("Ensembl gene ID",),
    "genomic_pos": (),
    "map_location": (),
    "_id": ("MyGene.info ID", "gene ID"),
    "_score": ("relevance score", "match score"),
}
"""How an instruction names a requested field: the first word is the plain one, the others are
alternatives for other personas. Filled from :data:`ATTRS` below for every field an attribute
of the synthetic generator asks for."""


def _fill_field_words() -> None:
    extra = {"genomic_pos": "location", "map_location": "cytoband"}
    for attr_name, attr in ATTRS.items():
        rest = [f for f in attr.fields if f not in ("symbol", "name")]
        target = rest[0] if len(rest) == 1 else None
        for f, a in extra.items():
            if a == attr_name:
                target = f
        if target is None:
            continue
        words = [_id_case(w) for w in attr.words if _usable(w)]
        have = list(FIELD_WORDS.get(target, ()))
        FIELD_WORDS[target] = tuple(dict.fromkeys(have + words))


_fill_field_words()

SYNTH_FIELDS = frozenset(
    {f for a in ATTRS.values() for f in a.fields} | set(WHICH_GENE_FIELDS) | set(LIST_FIELDS)
)
"""Every ``fields=`` entry the synthetic generator writes; others are reported as unusual."""

ID_FIELDS: dict[str, tuple[str, ...]] = {
    "entrezgene": ("Entrez gene ID", "NCBI gene ID"),
    "ensembl.gene": ("Ensembl gene ID", "Ensembl ID"),
    "uniprot": tuple(gene_intents.SOURCE_WORDS["uniprot"]),
    "uniprot.Swiss-Prot": tuple(vocab.ID_WORDS["swissprot"][:2]),
    "refseq": ("RefSeq accession", "RefSeq ID"),
    "refseq.rna": tuple(gene_intents.SOURCE_WORDS["refseq_rna"]),
    "ensembl.transcript": tuple(gene_intents.SOURCE_WORDS["ensembl_transcript"]),
    "ensembl.protein": tuple(gene_intents.SOURCE_WORDS["ensembl_protein"]),
    "HGNC": tuple(vocab.ID_WORDS["hgnc"]),
    "MGI": tuple(vocab.ID_WORDS["mgi"]),
    "RGD": tuple(vocab.ID_WORDS["rgd"]),
    "ZFIN": tuple(vocab.ID_WORDS["zfin"]),
    "FLYBASE": tuple(w for w in vocab.ID_WORDS["flybase"] if _usable(w)),
    "WormBase": tuple(w for w in vocab.ID_WORDS["wormbase"] if _usable(w)),
    "MIM": tuple(vocab.ID_WORDS["omim"]),
    "retired": ("retired Entrez gene ID",),
    "_id": ("MyGene.info ID",),
}
"""``q`` fields that identify one gene: ``hgnc:1771`` is "the gene with HGNC ID 1771"."""

SET_ID_FIELDS: dict[str, str] = {
    "homologene": "in HomoloGene group",
    "homologene.id": "in HomoloGene group",
    "go": "annotated with the GO term",
    "interpro": "with the InterPro domain",
    "interpro.id": "with the InterPro domain",
    "pfam": "with the Pfam family",
    "prosite": "with the PROSITE motif",
    "pdb": "with the PDB structure",
    "accession": "linked to the GenBank accession",
    "unigene": "in the UniGene cluster",
    "reporter": "measured by the microarray probe",
    "reagent": "targeted by the reagent",
    "pharmgkb": "with the PharmGKB ID",
    "ipi": "with the IPI ID",
    "HPRD": "with the HPRD ID",
    "TAIR": "with the TAIR ID",
    "Xenbase": "with the Xenbase ID",
    "miRBase": "with the miRBase ID",
}
"""``q`` fields whose value may be shared by several genes (a group, a domain, a probe)."""

TEXT_FIELDS: dict[str, str] = {
    "symbol": "with the symbol",
    "alias": "with the alias",
    "name": "whose name contains",
    "summary": "whose summary mentions",
    "other_names": "also known as",
    "type_of_gene": "of gene type",
    "genomic_pos.chr": "on chromosome",
    "map_location": "at the cytogenetic band",
}


SYNTH_Q_FIELDS = frozenset(
    {spec[1] for spec in gene_intents.ID_SOURCES.values()}
    | {"symbol", "alias", "name", "summary", "type_of_gene", "genomic_pos.chr", "homologene.id"}
    | {f"go.{c}.{k}" for c in GO_WORDS for k in ("id", "term")}
    | {f"pathway.{s}.{k}" for s in ("reactome", "wikipathways") for k in ("id", "name")}
    | {"_exists_", "entrezgene"}
)
"""``q`` fields the synthetic generator writes (:mod:`assistant.synth.gene_intents`'
``ID_SOURCES`` and the set intents of :mod:`assistant.synth.set_intents`); Entrez ids are
asked through /v3/gene there. Others are reported as unusual."""

SYNTH_PARAMS = frozenset({"q", "fields", "species", "size", "from", "sort", "facets", "scopes"})
"""Parameters the synthetic generator sets (POST /gene ``ids`` aside)."""

FACET_WORDS = {"taxid": "species", "type_of_gene": "gene type", "genomic_pos.chr": "chromosome"}


def field_words(name: str) -> tuple[str, ...]:
    """Ways to name a requested field, plainest first: the generator's words, else words from
    the field's description in data/schema/mygene_fields.json.

    >>> field_words("entrezgene")[:3]
    ('Entrez gene ID', 'Entrez ID', 'NCBI gene ID')
    >>> field_words("pantherdb")
    ('PANTHER classification',)
    """
    if FIELD_WORDS.get(name):
        return FIELD_WORDS[name]
    fields = load_fields()
    if name == "all":
        return ("full record", "complete annotation")
    if name in fields:
        desc = fields[name].description
        text = re.split(r" \(|: |; |, | of (?:the|a|an) |\. ", desc, maxsplit=1)[0].strip(" .")
        if 1 <= len(text.split()) <= 7 and ":" not in text:
            return (text,)
    last = name.split(".")[-1].replace("_", " ")
    return (f"{last} annotations",)


def _join(items: list[str], word: str = "and") -> str:
    """``a``, ``a and b``, ``a, b, and c``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {word} {items[1]}"
    return ", ".join(items[:-1]) + f", {word} " + items[-1]


def _species_words(value: str) -> tuple[str, str] | None:
    """``(adjective, plain name)`` of one species of a query (``human``), or None for a
    taxid without a name (written as "taxid 9913")."""
    api = load_api()
    taxid = api.taxid(value)
    name = api.species_name(taxid) if taxid is not None else None
    if taxid in vocab.SPECIES_WORDS:
        adj = vocab.SPECIES_WORDS[taxid]["adj"][0]
        return adj, adj
    if name and name in EXTRACT_SPECIES_WORDS:
        word = EXTRACT_SPECIES_WORDS[name][0]
        return word, word
    return None


# --- the description --------------------------------------------------------------------------


@dataclass
class Leaf:
    """One condition of ``q``: ``verb`` + ``value`` ("whose summary mentions" + "insulin") and,
    when it names one gene, ``identity`` ("the gene with HGNC ID 1771")."""

    verb: str
    value: str
    identity: str | None = None
    negated: bool = False


@dataclass
class Shape:
    """A query in words: who (``subject``), what (``asked``, field phrases), how (``mods``)."""

    subject: str
    """Noun phrase of the genes: ``the human gene TP53`` (``symbol:TP53``), ``human genes that
    have anything to do with apoptosis`` (a bare term, searched in every default field)."""
    count_subject: str
    """Plural noun phrase for counts: ``human genes with the symbol TP53``."""
    plural: bool
    asked: list[str] = field(default_factory=list)
    asked_fields: list[str] = field(default_factory=list)
    mods: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    mode: str = "find"
    """``get`` (fields asked), ``find`` (default fields), ``count`` (size=0), ``facet``."""
    facet: str = ""
    uncovered: list[str] = field(default_factory=list)


def describe(query: Query) -> Shape:
    """The :class:`Shape` of a query, or :class:`Uncovered` when it cannot be put in words.

    >>> s = describe(parse_query("/v3/query?q=cdk*&size=50&from=50"))
    >>> s.subject, s.mods
    ('genes matching anything starting with cdk', ['at most 50 results', 'skipping the first 50'])
    """
    params = dict(query.params)
    uncovered: list[str] = []
    skip: list[str] = []
    known = {"fields", "species", "size", "from", "sort", "facets", "scopes", "ids"}
    known |= {"exists", "missing", "entrezonly", "ensemblonly", "facet_size"}
    for name in params:
        if name not in known:
            skip.append(f"unknown_parameter {name}")
        elif name not in SYNTH_PARAMS and name != "ids":
            uncovered.append(f"unusual_parameter {name}")
    if skip:
        raise Uncovered(skip)

    species = [s.strip() for s in params.get("species", "").split(",") if s.strip()]
    species = [s for s in species if s.lower() != "all"]
    adj, suffix = _species_phrase(species)

    if query.endpoint == "gene" and query.method == "GET":
        word = _gene_id_word(query.gene_id or "")
        subject = f"the {adj}gene with {word} {query.gene_id}".replace("  ", " ")
        count_subject, plural = f"genes with {word} {query.gene_id}", False
    elif query.endpoint == "gene":
        ids = [t.strip() for t in params.get("ids", "").split(",") if t.strip()]
        word = _plural(_common_id_word(ids))
        subject = f"the genes with {word} {_join(ids)}"
        count_subject, plural = subject, True
    elif query.method == "POST":
        terms = [t.strip() for t in (query.q or "").split(",") if t.strip()]
        scopes = [s.strip() for s in params.get("scopes", "").split(",") if s.strip()]
        for s in scopes:
            if s not in SYNTH_Q_FIELDS and s not in ("alias", "_id"):
                uncovered.append(f"unusual_scope {s}")
        by = _join([field_words(s)[0] for s in scopes], "or") or "symbol or Entrez gene ID"
        noun = "gene" if len(terms) == 1 else "genes"
        subject = f"the {adj}{noun} {_join(terms)}{suffix} (looked up by {by})"
        count_subject, plural = subject, len(terms) > 1
    else:
        leaves, cond, q_uncovered, taxa = _describe_q(query.q or "")
        uncovered += q_uncovered
        for t in taxa:  # taxid:9606 in q names the species as well
            if t not in species:
                species.append(t)
        adj, suffix = _species_phrase(species)
        single = [x for x in leaves if not x.negated]
        if len(single) == 1 and single[0].identity and cond == _leaf_text(single[0]):
            subject = single[0].identity.replace("the gene", f"the {adj}gene", 1) + suffix
            plural = False
        else:
            subject, plural = f"{adj}genes {cond}{suffix}", True
        count_subject = f"{adj}genes {cond}{suffix}"

    shape = Shape(subject.replace("  ", " "), count_subject.replace("  ", " "), plural)
    shape.uncovered = uncovered
    _describe_params(query, params, shape)
    return shape


def _plural(word: str) -> str:
    return word if word.endswith("s") else word + "s"


def _gene_id_word(gene_id: str) -> str:
    if gene_id.isdigit():
        return "Entrez gene ID"
    if re.match(r"^ENS[A-Z]*G\d", gene_id, re.IGNORECASE):
        return "Ensembl gene ID"
    return "gene ID"


def _common_id_word(ids: list[str]) -> str:
    words = {_gene_id_word(i) for i in ids}
    return words.pop() if len(words) == 1 else "gene ID"


def _species_phrase(species: list[str]) -> tuple[str, str]:
    """``("human ", "")`` or, for taxids without a name, ``("", " of taxid 9913")``."""
    named, taxids, seen = [], [], set()
    api = load_api()
    for s in species:
        taxid = api.taxid(s)
        if (taxid or s) in seen:
            continue
        seen.add(taxid or s)
        words = _species_words(s)
        if words:
            named.append(words[0])
        else:
            taxids.append(s)
    adj = (_join(named) + " ") if named else ""
    suffix = f" of taxid {_join(taxids)}" if taxids else ""
    return adj, suffix


def _describe_params(query: Query, params: dict[str, str], shape: Shape) -> None:
    fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
    for f in fields:
        if f not in SYNTH_FIELDS and f != "all":
            shape.uncovered.append(f"unusual_field {f}")
    shape.asked_fields = fields
    shape.asked = [field_words(f)[0] for f in fields]
    size = params.get("size")
    if "facets" in params:
        facets = [f.strip() for f in params["facets"].split(",") if f.strip()]
        shape.facet = _join([FACET_WORDS.get(f) or field_words(f)[0] for f in facets])
        for f in facets:
            if f not in FACET_WORDS:
                shape.uncovered.append(f"unusual_facet {f}")
    if size == "0":  # no hits come back, so requested fields are not asked for
        shape.mode = "facet" if shape.facet else "count"
        shape.asked_fields, shape.asked = [], []
    elif fields:
        shape.mode = "get"
    if size not in (None, "0"):
        shape.mods.append("limited to 1 result" if size == "1" else f"at most {size} results")
        shape.numbers.append(size)
    if "from" in params:
        shape.mods.append(f"skipping the first {params['from']}")
        shape.numbers.append(params["from"])
    if "sort" in params:
        keys = []
        for key in (k.strip() for k in params["sort"].split(",") if k.strip()):
            desc = key.startswith("-")
            word = field_words(key.lstrip("-+"))[0]
            keys.append(word + (" in descending order" if desc else ""))
        shape.mods.append("sorted by " + _join(keys, "then"))
    if shape.facet and shape.mode != "facet":
        shape.mods.append(f"with counts per {shape.facet}")
    for name, word in (("exists", "that have"), ("missing", "without")):
        if name in params:
            names = [field_words(f.strip())[0] for f in params[name].split(",") if f.strip()]
            shape.mods.append(f"only genes {word} {_join(names)}")
    if params.get("entrezonly") == "true":
        shape.mods.append("only genes with an Entrez gene ID")
    if params.get("ensemblonly") == "true":
        shape.mods.append("only genes with an Ensembl gene ID")
    if "facet_size" in params:
        shape.mods.append(f"showing the top {params['facet_size']} values per facet")
        shape.numbers.append(params["facet_size"])


# --- q in words ---------------------------------------------------------------------------------


def _describe_q(q: str) -> tuple[list[Leaf], str, list[str], list[str]]:
    """``(leaves, condition, uncovered, species from taxid:)`` of a ``q`` value; the condition
    reads after "genes": ``matching interleukin or insulin and matching receptor``."""
    q = " ".join(q.split())
    match = INTERVAL_RE.match(q)
    if match:
        lo, hi = (int(match.group(k).replace(",", "")) for k in ("start", "end"))
        where = f"located on chromosome {match.group('chr')} between {lo:,} and {hi:,}"
        if match.group("assembly"):
            where += f" on the {match.group('assembly')} assembly"
        return [Leaf(where, "")], where, [], []
    tree = parse_lucene(q)
    if tree is None:
        raise Uncovered(["unparseable_q"])
    leaves: list[Leaf] = []
    uncovered: list[str] = []
    taxa: list[str] = []
    text = _render(tree, None, leaves, uncovered, taxa)
    if not text:  # only taxid: terms
        text = "of any kind"
    return leaves, text, uncovered, taxa


def _leaf_text(leaf: Leaf) -> str:
    return f"{leaf.verb} {leaf.value}".strip()


def _render(node, fname, leaves, uncovered, taxa) -> str:
    """The words of one node of the parse tree (see :func:`_describe_q`)."""
    from luqum import tree as t

    if isinstance(node, t.SearchField):
        if node.name == "taxid" and isinstance(node.expr, t.Word):
            taxa.append(node.expr.value)
            uncovered.append("unusual_q_field taxid")
            return ""
        return _render(node.expr, node.name, leaves, uncovered, taxa)
    if isinstance(node, (t.Group, t.FieldGroup)):
        return _render(node.expr, fname, leaves, uncovered, taxa)
    if isinstance(node, (t.Not, t.Prohibit)):
        inner = _render(node.a, fname, leaves, uncovered, taxa)
        if leaves:
            leaves[-1].negated = True
        return f"not {inner}"
    if isinstance(node, t.Plus):
        return _render(node.a, fname, leaves, uncovered, taxa)
    if isinstance(node, (t.AndOperation, t.OrOperation, t.UnknownOperation)):
        return _render_operation(node, fname, leaves, uncovered, taxa)
    if isinstance(node, t.Range):
        lo, hi = str(node.low).strip(), str(node.high).strip()
        word = field_words(fname)[0] if fname else "value"
        if fname and fname not in SYNTH_Q_FIELDS:
            uncovered.append(f"unusual_q_field {fname}")
        uncovered.append("unusual_q_syntax range")
        if lo == "*":
            text = f"with {word} up to {hi}"
        elif hi == "*":
            text = f"with {word} of at least {lo}"
        else:
            text = f"with {word} between {lo} and {hi}"
        leaves.append(Leaf(text, ""))
        return text
    if isinstance(node, (t.Word, t.Phrase)):
        leaf = _leaf(node, fname, uncovered)
        leaves.append(leaf)
        return _leaf_text(leaf)
    raise Uncovered([f"unsupported_q_syntax {type(node).__name__}"])


def _render_operation(node, fname, leaves, uncovered, taxa) -> str:
    from luqum import tree as t

    word = {t.AndOperation: "and", t.OrOperation: "or"}.get(type(node), "")
    start = len(leaves)
    parts: list[str] = []
    negs: list[str] = []
    for child in node.children:
        text = _render(child, fname, leaves, uncovered, taxa)
        if not text:
            continue
        (negs if text.startswith("not ") else parts).append(text)
    mine = leaves[start:]
    plain = [x for x in mine if not x.negated]
    same_verb = len({x.verb for x in plain}) == 1 and len(plain) == len(parts)
    if same_verb and plain and len(plain) > 1:
        values = [x.value for x in plain]
        if word:
            text = f"{plain[0].verb} {_join(values, word)}"
        else:  # implicit operator: the words as written
            text = f"{plain[0].verb} {' '.join(values)}"
    else:
        text = _join(parts, word or "and")
    if negs:
        neg_leaves = [x for x in mine if x.negated]
        if len({x.verb for x in neg_leaves}) == 1 and len(neg_leaves) == len(negs):
            text += f" but not {_join([x.value for x in neg_leaves], 'or')}"
        else:
            text += " but " + _join(negs, "or")
    if word == "or" and not same_verb and len(parts) > 1:
        text = "either " + text
    return text


def _leaf(node, fname: str | None, uncovered: list[str]) -> Leaf:
    from luqum import tree as t

    phrase = isinstance(node, t.Phrase)
    value = node.value.replace("\\", "").strip()
    if phrase:
        value = '"' + value.strip('"') + '"'
    canonical = QUERY_PREFIXES.get(fname, (fname,))[0] if fname else None
    if fname and fname.lower() in ("hgnc", "mim", "mgi", "rgd", "zfin", "flybase", "wormbase"):
        canonical = QUERY_PREFIXES[fname.lower()][0]
    if fname and canonical and fname not in SYNTH_Q_FIELDS and canonical not in SYNTH_Q_FIELDS:
        if fname.lower() not in ("go", "refseq", "ensemblgene"):
            uncovered.append(f"unusual_q_field {fname}")
    wild = not phrase and ("*" in value or "?" in value)
    if fname is None:  # a bare term searches every default field, not the symbol alone
        if wild:
            return Leaf("matching anything", _pattern(value))
        if phrase:
            return Leaf("that match the phrase", value)
        return Leaf("that have anything to do with", value)
    if fname == "_exists_":
        return Leaf("that have", _join([field_words(value)[0]]))
    if fname == "_missing_":
        return Leaf("without", field_words(value)[0])
    if wild:
        if fname != "symbol":
            uncovered.append(f"unusual_q_syntax wildcard on {fname}")
        where = "symbol" if fname == "symbol" else field_words(fname)[0]
        return Leaf(f"with a {where}", _pattern(value))
    if fname == "symbol":
        return Leaf("with the symbol", value, identity=f"the gene {value}")
    if fname in TEXT_FIELDS:
        return Leaf(TEXT_FIELDS[fname], value)
    if fname.lower() == "go" or fname == "GO":  # go:0000307 — the bare number is the entity
        return Leaf("annotated with the GO term", value.split(":")[-1])
    m = re.fullmatch(r"go\.(BP|MF|CC)\.(id|term)", fname)
    if m:
        what = GO_WORDS[m.group(1)]
        verb = f"annotated with the GO {what}"
        if m.group(1) == "BP" and m.group(2) == "term":
            verb = "involved in the biological process"
        return Leaf(verb, value)
    m = re.fullmatch(r"pathway\.(\w+)\.(id|name)", fname)
    if m:
        source = PATHWAY_WORDS.get(m.group(1), m.group(1))
        return Leaf(f"in the {source} pathway", value)
    for key in (fname, canonical, fname.lower()):
        if key in ID_FIELDS:
            word = _id_case(ID_FIELDS[key][0])
            return Leaf(f"with the {word}", value, identity=f"the gene with {word} {value}")
        if key in SET_ID_FIELDS:
            return Leaf(SET_ID_FIELDS[key], value)
    if fname == "ensemblgene":
        return Leaf(
            "with the Ensembl gene ID", value, identity=f"the gene with Ensembl gene ID {value}"
        )
    return Leaf(f"whose {field_words(canonical or fname)[0]} matches", value)


def _pattern(value: str) -> str:
    """A wildcard in words: ``cdk*`` → "starting with cdk", ``IL*R`` → "starting with IL and
    ending with R", ``CDK?`` → "CDK followed by one character"."""
    m = re.fullmatch(r"([^*?]+)\*", value)
    if m:
        return f"starting with {m.group(1)}"
    m = re.fullmatch(r"([^*?]+)(\?+)", value)
    if m:
        n = len(m.group(2))
        return f"starting with {m.group(1)} followed by {'one character' if n == 1 else f'{n} characters'}"
    m = re.fullmatch(r"([^*?]+)\*([^*?]+)", value)
    if m:
        return f"starting with {m.group(1)} and ending with {m.group(2)}"
    return "matching the pattern " + value.replace("?", " (one character) ").replace("  ", " ")


# --- the personas -----------------------------------------------------------------------------

PERSONAS: dict[str, str] = {
    "terse": "imperative",
    "polite": "question",
    "biologist": "imperative",
    "bioinformatician": "imperative",
    "student": "question",
    "retrieve": "imperative",
}
"""Each persona and the form its sentences take (checked as such). In this order any three
personas in a row include a question and an imperative."""

WORD_VARIANT = {"terse": 0, "polite": 0, "retrieve": 0, "biologist": 1, "student": 2}
WORD_VARIANT["bioinformatician"] = 3
"""Which of a field's words each persona uses (0: the plain one)."""

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "get": {
        "retrieve": ["Retrieve the {what} for {subj}{mods}."],
        "terse": ["{What} for {subj}{mods}", "{Subj}: {what}{mods}"],
        "polite": [
            "Could you please give me the {what} of {subj}{mods}?",
            "Hi, could you look up the {what} for {subj}{mods}?",
        ],
        "biologist": [
            "I'm working on {subj} in the lab and need {its} {what}{mods}.",
            "For my experiments I need the {what} of {subj}{mods}.",
        ],
        "bioinformatician": [
            "Pull the {what} of {subj} from MyGene.info{mods}.",
            "Fetch the {what} for {subj}{mods} as JSON.",
        ],
        "student": [
            "What {be} the {what} of {subj}{mods}?",
            "Can you show me the {what} of {subj}{mods}?",
        ],
    },
    "find": {
        "retrieve": ["Retrieve the records of {subj}{mods}.", "Retrieve {subj}{mods}."],
        "terse": ["{Subj}{mods}", "All {subj}{mods}", "Lookup: {subj}{mods}"],
        "polite": ["Could you please find {subj}{mods}?", "Hi, could you look up {subj}{mods}?"],
        "biologist": [
            "For my experiments I need to look up {subj}{mods}.",
            "I'm studying {subj} in the lab; find {them} for me{mods}.",
        ],
        "bioinformatician": [
            "Query MyGene.info for {subj}{mods}.",
            "Search the gene index for {subj}{mods}.",
        ],
        "student": ["Can you show me {subj}{mods}?", "Where can I find {subj}{mods}?"],
    },
    "count": {
        "retrieve": ["Count the {csubj}.", "Retrieve the number of {csubj}."],
        "terse": ["Number of {csubj}", "Count of {csubj}"],
        "polite": ["Could you please tell me how many {csubj} there are?"],
        "biologist": [
            "I need to know how many {csubj} there are.",
            "Tell me how many {csubj} exist.",
        ],
        "bioinformatician": [
            "Return only the number of hits for {csubj}.",
            "Get the hit count for {csubj}.",
        ],
        "student": ["How many {csubj} are there?"],
    },
    "facet": {
        "retrieve": [
            "Count the {csubj} per {facet}.",
            "Retrieve the number of {csubj} per {facet}.",
        ],
        "terse": ["Number of {csubj} per {facet}", "Count of {csubj} by {facet}"],
        "polite": ["Could you please break down the {csubj} by {facet}?"],
        "biologist": ["I need to know how many {csubj} there are for each {facet}."],
        "bioinformatician": ["Return facet counts of {csubj} by {facet}, without the hits."],
        "student": ["How many {csubj} are there for each {facet}?"],
    },
}
"""Sentences per mode and persona, tried in order until one passes the checks. Slots:
``{what}`` the requested fields, ``{subj}`` / ``{csubj}`` the genes (``{Subj}`` capitalised),
``{mods}`` size, paging, sorting and filters, ``{its}``/``{them}``/``{be}`` agreement."""


def _variant(shape: Shape, persona_index: int) -> str:
    """The requested fields in plain words (``persona_index`` 0), or in the generator's other
    words for other personas."""
    words = []
    for f in shape.asked_fields:
        options = field_words(f)
        words.append(options[persona_index % len(options)])
    return _join(words)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentences(shape: Shape) -> list[tuple[str, str]]:
    """``(persona, sentence)`` candidates for every persona, in :data:`PERSONAS` order, each
    persona's templates in order."""
    out: list[tuple[str, str]] = []
    mods = "".join(", " + m for m in shape.mods)
    for persona in PERSONAS:
        i = WORD_VARIANT[persona]
        what = _variant(shape, i) if shape.asked_fields else ""
        if shape.asked_fields == ["all"]:
            what = "full record"
        many = len(shape.asked_fields) > 1 or what.endswith("s")
        slots = {
            "what": what,
            "What": _cap(what),
            "subj": shape.subject,
            "Subj": _cap(shape.subject),
            "csubj": shape.count_subject,
            "mods": mods,
            "facet": shape.facet,
            "its": "their" if shape.plural else "its",
            "them": "them" if shape.plural else "it",
            "be": "are" if many else "is",
        }
        for template in TEMPLATES[shape.mode][persona]:
            text = template.format(**slots)
            out.append((persona, re.sub(r"\s+([,.?])", r"\1", " ".join(text.split()))))
    return out


def check_mentions(text: str, shape: Shape) -> list[tuple[str, str]]:
    """``missing_field`` / ``missing_number`` problems: every requested field is named by one
    of its words, every number of size, from and facet_size appears.

    >>> s = describe(parse_query("/v3/gene/1017?fields=symbol,summary"))
    >>> check_mentions("Retrieve the summary of gene 1017.", s)
    [('missing_field', 'symbol')]
    """
    low = text.lower()
    problems = []
    for f in shape.asked_fields:
        if f == "all":
            continue
        words = {w.lower() for w in field_words(f)}
        if not any(
            re.search(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])", low) for w in words
        ):
            problems.append(("missing_field", f))
    for n in shape.numbers:
        if not re.search(r"(?<![0-9,])" + re.escape(n) + r"(?![0-9])", text):
            problems.append(("missing_number", n))
    return problems


def _order(key: str) -> list[str]:
    """The personas rotated by a hash of the query (same query, same order)."""
    names = list(PERSONAS)
    k = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % len(names)
    return names[k:] + names[:k]


def write(
    query: Query, per_query: int | None = None, key: str | None = None, display: str | None = None
) -> list[tuple[str, str]]:
    """``(persona, instruction)`` pairs that pass every check, one per persona, in the
    rotation of ``key`` (``retrieve`` first when no key is given), at most ``per_query``.

    ``display`` is the query as the log wrote it (named entities keep their case);
    :class:`Uncovered` propagates.
    """
    kept, _problems, _shape = _attempt(query, per_query, key, display)
    return kept


def _attempt(query, per_query, key, display):
    shown = parse_query(display) if display else query
    shape = describe(shown)
    ents = entities(shown)
    explanation = explain(query)
    order = _order(key) if key else ["retrieve"] + [p for p in PERSONAS if p != "retrieve"]
    by_persona: dict[str, list[str]] = {}
    for persona, text in sentences(shape):
        by_persona.setdefault(persona, []).append(text)
    kept: list[tuple[str, str]] = []
    problems: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for persona in order:
        if per_query is not None and len(kept) >= per_query:
            break
        for text in by_persona.get(persona, []):
            found = check_instruction(text, PERSONAS[persona], ents, display or "", explanation)
            found += check_mentions(text, shape)
            if not found and text.lower() in seen:
                found = [("duplicate", text)]
            if found:
                problems[persona] = found
                continue
            kept.append((persona, text))
            seen.add(text.lower())
            problems.pop(persona, None)
            break
    return kept, problems, shape


# --- the writer -------------------------------------------------------------------------------


class TemplateWriter:
    """The deterministic writer behind ``datagen --writer template`` (the default).

    :meth:`write` returns the :class:`~.instructions.Outcome` of one candidate: the kept
    instructions by persona, the problems of personas that found no passing sentence, and the
    shapes the synthetic generator does not cover (``outcome.uncovered``). Failed checks are
    counted under stage ``checks``, uncovered shapes under stage ``uncovered``.
    """

    name = WRITER

    def __init__(self, per_query: int = DEFAULT_PER_QUERY):
        self.per_query = per_query

    def write(self, candidate: Candidate, report: Report) -> Outcome:
        out = Outcome(attempts=1)
        try:
            kept, problems, shape = _attempt(
                candidate.query, self.per_query, candidate.key, candidate.display
            )
        except Uncovered as exc:
            out.uncovered = list(exc.reasons)
            out.problems["all"] = [("uncovered_shape", r) for r in exc.reasons]
            for reason in exc.reasons:
                report.reject("uncovered", reason, candidate.display)
            report.reject("instruct", "uncovered_shape", f"{candidate.display} ({exc})")
            return out
        out.accepted = dict(kept)
        out.uncovered = list(dict.fromkeys(shape.uncovered))
        for reason in out.uncovered:
            report.reject("uncovered", reason, candidate.display)
        for persona, found in problems.items():  # personas with no passing sentence
            out.problems[persona] = found
            for code, detail in found:
                report.reject("checks", code, f"{persona}: {candidate.display} ({detail})")
        return out

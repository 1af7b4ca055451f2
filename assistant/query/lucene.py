"""The one place that reads and writes Lucene ``q`` strings: the luqum parse (with its limits),
the genome-interval pattern, a tree walker and the renderer every other module uses.

>>> [n.value for n in walk(parse_lucene("symbol:cdk2 AND (tp53 OR brca*)"), "Word")]
['cdk2', 'tp53', 'brca*']
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..schema import QUERY_PREFIXES, FieldSchema, load_fields

INTERVAL_RE = re.compile(
    r"^\s*(?:(?P<assembly>\w+)\.)?chr(?P<chr>\w+)\s*:\s*(?P<start>[0-9,]+)\s*-\s*(?P<end>[0-9,]+)\s*$",
    re.IGNORECASE,
)
"""A genome interval query: ``chr1:1000-2000``, ``chrX:151,073,054-151,383,976``,
``hg19.chr12:56,360,553-56,366,568``, spaces around ``:`` and ``-`` allowed. The one pattern
of the project: the validator checks the assembly, the canonical form writes it without
spaces or separators, the store's search reads it.

>>> INTERVAL_RE.match("hg19.chr7 : 117,480,025 - 117,668,665").group("assembly", "chr", "start")
('hg19', '7', '117,480,025')
"""


MAX_DEPTH = 50
"""The deepest parse tree a ``q`` may have (groups and operators nested in each other): deeper
is refused before anything walks the tree, as Elasticsearch refuses deeply nested queries."""


def parse_lucene(q: str, errors: list[str] | None = None):
    """The luqum parse tree of a Lucene query string, or None (with a message in ``errors``).

    >>> parse_lucene("symbol:CDK2 AND taxid:9606")
    AndOperation(SearchField('symbol', Word('CDK2')), SearchField('taxid', Word('9606')))
    """
    from luqum.exceptions import ParseError
    from luqum.parser import parser

    problem = _balance_problem(q)
    if problem is None:
        try:
            tree = parser.parse(q)
        except (ParseError, TypeError, AttributeError) as exc:
            problem = str(exc).strip().rstrip("!")
        except ValueError:  # luqum's int() of a phrase's proximity: "a b"~0.5, ~99999...
            problem = "a phrase's ~N must be a whole number (of fewer than 4,300 digits)"
        else:
            depth = tree_depth(tree)
            if depth <= MAX_DEPTH:
                return tree
            problem = (
                f"it is nested {depth} levels deep (groups and operators); at most {MAX_DEPTH}"
            )
    if errors is not None:
        errors.append(f"q cannot be parsed: {problem}")
    return None


def tree_depth(tree) -> int:
    """The depth of a luqum tree, counted without recursion (so any depth can be measured).

    >>> tree_depth(parse_lucene("symbol:cdk2 AND (taxid:9606 OR NOT name:kinase)"))
    6
    """
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _balance_problem(q: str) -> str | None:
    """Unbalanced quotes, parentheses or brackets, said plainly (outside escapes and phrases)."""
    depth = {"(": 0, "[": 0}
    in_phrase = escaped = False
    for ch in q:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_phrase = not in_phrase
        elif in_phrase:
            continue
        elif ch == "(":
            depth["("] += 1
        elif ch in "[{":
            depth["["] += 1
        elif ch == ")":
            depth["("] -= 1
            if depth["("] < 0:
                return "a ) closes nothing"
        elif ch in "]}":
            depth["["] -= 1
            if depth["["] < 0:
                return f"a {ch} closes nothing"
    if in_phrase:
        return 'unbalanced quotes (a " is not closed)'
    if depth["("]:
        return f"unbalanced parentheses ({depth['(']} more ( than ))"
    if depth["["]:
        return "an unclosed range bracket [ or {"
    return None


def render_lucene(tree) -> str:
    """The text of a (possibly edited) luqum tree, written the way :func:`canonical_q` writes
    it but with values as given: one space around operators whatever the tree's whitespace.

    >>> render_lucene(parse_lucene("symbol:cdk2   AND  taxid:9606"))
    'symbol:cdk2 AND taxid:9606'
    """
    return render_tree(tree, load_fields(), lower=False)


def _field_name(name: str, fields: FieldSchema) -> str:
    if fields.is_path(name) or name in ("_exists_", "_missing_"):
        return name
    if name == "GO":
        return "go"
    target = QUERY_PREFIXES.get(name.lower())
    if target and len(target) == 1 and target[0].lower() == name.lower():
        return target[0]
    return name


def _plain(number) -> str:
    """A boost or fuzziness as written in q: luqum keeps them as normalized Decimals, which
    print ``20`` as ``2E+1``."""
    return format(number, "f") if isinstance(number, Decimal) else str(number)


def render_tree(node, fields: FieldSchema, lower: bool, relax: tuple[str, ...] = ()) -> str:
    """The text of a luqum tree, values lower-cased when ``lower``; ``relax``: field names whose
    terms are written as plain words (``symbol:x`` → ``x``)."""
    from luqum import tree as t

    def r(child, lower=lower):
        return render_tree(child, fields, lower, relax)

    if isinstance(node, t.SearchField):
        if node.name.lower() in relax:
            return r(node.expr)
        keep = node.name in ("_exists_", "_missing_")
        return f"{_field_name(node.name, fields)}:{r(node.expr, lower and not keep)}"
    if isinstance(node, (t.Group, t.FieldGroup)):
        return f"({r(node.expr)})"
    joiners = {t.AndOperation: " AND ", t.OrOperation: " OR ", t.UnknownOperation: " "}
    if type(node) in joiners:
        return joiners[type(node)].join(r(c) for c in node.children)
    prefixes = {t.Not: "NOT ", t.Prohibit: "-", t.Plus: "+"}
    if type(node) in prefixes:
        return f"{prefixes[type(node)]}{r(node.a)}"
    if isinstance(node, t.Range):
        low = "[" if node.include_low else "{"
        high = "]" if node.include_high else "}"
        return f"{low}{r(node.low)} TO {r(node.high)}{high}"
    if isinstance(node, t.From):
        return f">{'=' if node.include else ''}{r(node.a)}"
    if isinstance(node, t.To):
        return f"<{'=' if node.include else ''}{r(node.a)}"
    if isinstance(node, (t.Fuzzy, t.Proximity)):
        return f"{r(node.term)}~{_plain(node.degree) if node.degree is not None else ''}"
    if isinstance(node, t.Boost):
        return f"{r(node.expr)}^{_plain(node.force)}"
    if isinstance(node, t.Regex):
        return node.value
    if isinstance(node, (t.Word, t.Phrase)):
        return node.value.lower() if lower else node.value
    return str(node).strip()


def walk(tree, *kinds: str):
    """Every node of a luqum tree, depth first in reading order, or only those whose class is
    one of ``kinds`` (``"Word"``, ``"Phrase"``, ``"SearchField"``, ...): the one tree walk the
    critic, the corrections, the metrics and datagen share."""
    if tree is None:
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        if not kinds or type(node).__name__ in kinds:
            yield node
        stack.extend(reversed(node.children))

"""The query critic (assistant/critic.py): each rule repairs what the question settles and the
model's query gets wrong, leaves a query that agrees alone, and says what it changed; the
pipeline runs it on the model's queries only and shows it in the trace."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_examples import VALID
from scripted import ScriptedModel

from assistant.backends import EmbeddedBackend
from assistant.config import Settings
from assistant.critic import critique, fields_named, gene_terms, interval_in, species_named
from assistant.pipeline import Assistant
from assistant.query import parse_query, validate


def fix(question: str, line: str) -> tuple[str, list[str]]:
    c = critique(question, parse_query(line))
    assert not validate(c.query), c.query  # a repair is always a valid query
    return c.query.to_text(), [f.rule for f in c.fixes]


# --- reading the question ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, interval",
    [
        ("Which human genes lie between 12.5 and 13 Mb on chromosome 1?", ("1", 12500000, 13000000)),
        ("genes on human chr17 from 7.66 to 7.69 Mb", ("17", 7660000, 7690000)),
        ("list genes within 100 kb window chr7:117,480,000-117,580,000", ("7", 117480000, 117580000)),
        ("human genes in the 500 kb from 43.0 Mb to 43.5 Mb of chr17", ("17", 43000000, 43500000)),
        ("genes at chrX:67.5-67.8Mb (human)", ("X", 67500000, 67800000)),
        ("genes between 250 kb and 400 kb of chromosome 2", ("2", 250000, 400000)),
        ("Which genes are in the first megabase of human chromosome 1?", ("1", 1, 1000000)),
        ("genes between 3 and 5 on chromosome 2", None),  # no unit, small numbers: not bases
        ("what does CDK2 do?", None),
    ],
)  # fmt: skip
def test_intervals_are_read_with_their_units(question, interval):
    assert interval_in(question) == interval


def test_species_are_read_from_the_words_the_api_describes():
    assert species_named("the murine Sox2 and the C. elegans sox-2") == ["mouse", "nematode"]
    assert species_named("huamn BRCA1 please") == ["human"]  # one edit off
    assert species_named("zebrafsh gene sox9") == ["zebrafish"]
    assert species_named("a gene for taxid 10116") == ["rat"]
    assert species_named("what is CDK2?") == []


def test_fields_are_read_through_the_field_schema():
    assert fields_named("Retrieve the symbol, Entrez gene ID, and Ensembl gene ID of BRCA2") == [
        "symbol", "entrezgene", "ensembl.gene"
    ]  # fmt: skip
    assert fields_named("ensmbl transcrpt ids of MYC") == ["ensembl.transcript"]  # typos
    assert fields_named("is GAPDH protien coding?") == ["type_of_gene"]
    assert "genomic_pos_hg19" in fields_named("the GRCh37 location of CFTR")
    assert "genomic_pos" in fields_named("both the GRCh38 and the GRCh37 location")
    assert fields_named("let's go") == []  # "GO" is only the ontology written in capitals


# --- the rules --------------------------------------------------------------------------------


def test_units_are_normalized_and_the_old_assembly_keeps_its_prefix():
    q, rules = fix(
        "genes on human chr17 from 7.66 to 7.69 Mb", "/v3/query?q=chr17:766000-769000&species=human"
    )
    assert q.startswith("/v3/query?q=chr17:7660000-7690000&") and rules[0] == "interval"
    q, _ = fix(
        "hg19 chr17 41.19-41.28 Mb genes",
        "/v3/query?q=chr17:4119000-4128000&fields=symbol&species=human",
    )
    assert "q=hg19.chr17:41190000-41280000" in q
    q, _ = fix(
        "In GRCh37/hg19 coordinates, which genes are in chr12:56,360,000-56,370,000?",
        "/v3/query?q=chr12:56360000-56370000&fields=symbol",
    )
    assert "q=hg19.chr12:56360000-56370000" in q
    q, rules = fix(  # right as written: nothing to repair
        "genes in chr7:117,480,000-117,580,000, human",
        "/v3/query?q=chr7:117480000-117580000&fields=symbol&species=human",
    )
    assert "interval" not in rules


def test_a_bare_chromosome_is_a_chromosome_or_the_question_s_interval():
    q, _ = fix("human genes on chromosome 21", "/v3/query?q=chr21&species=human")
    assert "q=genomic_pos.chr:21" in q
    q, _ = fix(
        "Which genes are in the first megabase of human chromosome 1?",
        "/v3/query?q=genomic_pos.chr:1&fields=symbol&species=human",
    )
    assert "q=chr1:1-1000000" in q


def test_the_species_the_question_names_is_added_or_replaces_another():
    q, rules = fix("human Trp53 - official symbol?", "/v3/query?q=symbol:trp53&fields=symbol")
    assert "species=human" in q and rules == ["species"]
    q, _ = fix("arabidopsis FLC gene summary", "/v3/query?q=symbol:flc&species=fruitfly")
    assert "species=thale-cress" in q
    q, _ = fix("How many genes have the alias p53 across all species?",
               "/v3/query?q=alias:p53&species=human&size=0")  # fmt: skip
    assert "species" not in q
    # the query's species is one the question names: it stands (an ortholog question)
    q, rules = fix("worm ortholog of human CDK2?", "/v3/query?q=symbol:cdk-2&species=nematode")
    assert "species=nematode" in q and "species" not in rules
    _, rules = fix("what does CDK2 do?", "/v3/query?q=symbol:cdk2&species=human")
    assert rules == ["fields"]  # no species named: the model's choice stands


def test_field_words_add_their_families_and_replace_a_sibling():
    q, _ = fix("Retrieve the Ensembl transcript IDs of the human gene TP53.",
               "/v3/query?q=symbol:tp53&fields=ensembl.gene,symbol&species=human")  # fmt: skip
    assert "fields=ensembl.transcript,symbol" in q  # the sibling the question did not ask for
    q, _ = fix("is XIST a protein-coding gene?", "/v3/query?q=symbol:xist&fields=symbol,uniprot")
    assert "type_of_gene" in q.split("fields=")[1]
    q, _ = fix("dump everything you have on human CDK2", "/v3/query?q=symbol:cdk2&species=human")
    assert "fields=all" in q
    _, rules = fix("How many human genes are on chromosome 21?",
                   "/v3/query?q=genomic_pos.chr:21&species=human&size=0")  # fmt: skip
    assert "fields" not in rules  # a count returns no fields


def test_a_count_is_only_a_count_when_the_question_asks_how_many():
    q, rules = fix("CDK2 in all species", "/v3/query?q=symbol:cdk2&size=0&facets=taxid")
    assert "size" not in q and "facets" not in q and "count" in rules
    _, rules = fix("How many human genes are on chrMT?",
                   "/v3/query?q=genomic_pos.chr:MT&species=human&size=0")  # fmt: skip
    assert "count" not in rules


def test_paging_follows_the_question():
    q, _ = fix("Human genes starting with KRT: show me the second page of 20.",
               "/v3/query?q=symbol:krt*&species=human&size=20")  # fmt: skip
    assert "size=20" in q and "from=20" in q
    q, _ = fix("third page (10 per page) of human genes on chromosome 21",
               "/v3/query?q=genomic_pos.chr:21&species=human&size=10&from=1000")  # fmt: skip
    assert "size=10" in q and "from=20" in q
    q, _ = fix("List human CDK genes in pages of 20, first page please",
               "/v3/query?q=symbol:cdk*&species=human&size=20&from=0")  # fmt: skip
    assert "from=" not in q or "from=0" in q
    q, _ = fix("which human genes have symbols starting with mir, skipping the first 50",
               "/v3/query?q=symbol:mir*&species=human&size=0")  # fmt: skip
    assert "from=50" in q and "size=0" not in q
    q, _ = fix("the top 5 human kinases", "/v3/query?q=name:kinase&species=human")
    assert "size=5" in q


def test_sorting_follows_the_question():
    q, _ = fix("the 5 human CDK genes with the highest Entrez IDs",
               "/v3/query?q=symbol:cdk*&species=human&size=5")  # fmt: skip
    assert "sort=-entrezgene" in q
    q, _ = fix("mouse Hox genes sorted alphabetically, top 15",
               "/v3/query?q=symbol:hox*&species=mouse&size=15&sort=name")  # fmt: skip
    assert "sort=symbol" in q


def test_a_family_of_symbols_is_a_prefix_search():
    q, _ = fix("all human genes starting with HOXA", "/v3/query?q=hoxa&species=human")
    assert "q=symbol:hoxa*" in q
    q, _ = fix("How many mouse Olfr genes are there?", "/v3/query?q=olfr&species=mouse&size=0")
    assert "q=symbol:olfr*" in q
    q, _ = fix("human HOX genes that are not pseudogenes",
               "/v3/query?q=hox NOT pseudo&species=human")  # fmt: skip
    assert "q=symbol:hox* NOT type_of_gene:pseudo" in q
    _, rules = fix("human kinase genes on chromosome 12",
                   "/v3/query?q=kinase AND genomic_pos.chr:12&species=human")  # fmt: skip
    assert "wildcard" not in rules  # a word, not a symbol family
    _, rules = fix("human genes whose symbol begins with CDK",
                   "/v3/query?q=symbol:cdk*&species=human")  # fmt: skip
    assert "wildcard" not in rules


def test_ids_go_to_their_own_field():
    q, _ = fix("Which gene does the transcript ENST00000269305 belong to?",
               "/v3/query?q=ensembl.gene:enst00000269305&fields=symbol")  # fmt: skip
    assert "q=ensembl.transcript:enst00000269305" in q
    q, _ = fix("refseq.rna of 7157", "/v3/query?q=refseq:7157&fields=refseq.rna")
    assert "q=entrezgene:7157" in q
    q, _ = fix("How many human genes are in the WikiPathways cell cycle pathway WP179?",
               '/v3/query?q=pathway.wikipathways.name:"cell cycle pathway wp179"&size=0')  # fmt: skip
    assert "q=pathway.wikipathways.id:WP179" in q


def test_symbols_are_terms_and_gene_types_are_types():
    q, _ = fix("What is gene of mouse which name is Sox2?",
               '/v3/query?q=name:"sox2"&fields=symbol&species=mouse')  # fmt: skip
    assert "q=sox2&" in q
    q, _ = fix(
        "Sept7 was renamed, what's the human symbol now?", '/v3/query?q="sept7"&species=human'
    )
    assert "q=sept7&" in q
    _, rules = fix("genes with 'tumor suppressor' in the name",
                   '/v3/query?q=name:"tumor suppressor"')  # fmt: skip
    assert "phrases" not in rules  # a phrase of words stays a phrase
    q, _ = fix("snoRNA genes on human chromosome 15, count only",
               "/v3/query?q=symbol:snorna AND genomic_pos.chr:15&species=human&size=0")  # fmt: skip
    assert "q=type_of_gene:snoRNA AND genomic_pos.chr:15" in q
    q, _ = fix("human kinases on chromosome 12",
               "/v3/query?q=type_of_gene:kinase AND genomic_pos.chr:12&species=human")  # fmt: skip
    assert "q=name:kinase AND genomic_pos.chr:12" in q
    q, _ = fix("how many genes does the store have for zebrafish?",
               "/v3/query?q=type_of_gene:zebrafish&species=zebrafish&size=0")  # fmt: skip
    assert "q=taxid:7955" in q


def test_a_batch_without_scopes_gets_the_scopes_its_terms_need():
    q, _ = fix("ids for CDK2, 672 and ENSG00000141510", "POST /v3/query q=CDK2,672,ENSG00000141510")
    assert "scopes=symbol,alias,entrezgene,ensembl.gene" in q
    _, rules = fix("ids for CDK2", "POST /v3/query q=CDK2&scopes=symbol")
    assert "scopes" not in rules


def test_a_query_that_agrees_with_its_question_is_left_alone():
    for question, line in [
        ("what is the Entrez id of human CDK2?",
         "/v3/query?q=symbol:cdk2&species=human&fields=entrezgene"),
        ("/v3/gene/1017", "/v3/gene/1017"),
        ("GO terms of mouse Trp53", "/v3/query?q=symbol:trp53&species=mouse&fields=go"),
    ]:  # fmt: skip
        c = critique(question, parse_query(line))
        assert not c.changed, c.fixes


# --- in the pipeline ----------------------------------------------------------------------------


def _ask(store, question: str, *lines: str, **settings):
    s = Settings(model="scripted", **settings)
    backend = EmbeddedBackend(s, store=store)
    return Assistant(s, model=ScriptedModel(list(lines)), backend=backend).answer(
        question, mode="ft"
    )


def test_gene_terms_leave_out_species_fields_assemblies_and_units():
    assert gene_terms("Where was EGFR in the old build (hg19)? Also its Entrez ID") == ["EGFR"]
    assert gene_terms("genes at chrX:67.5-67.8Mb (human)") == []
    assert gene_terms("GO terms of mouse Trp53 and p21, 2nd page") == ["Trp53", "p21"]


def test_a_term_copied_wrong_is_repaired_before_it_runs(tiny_store):
    a = _ask(tiny_store, "Where is CDK2?", "/v3/query?q=symbol:ckd2&species=human")
    assert a.query.startswith("/v3/query?q=symbol:CDK2&species=human") and len(a.attempts) == 1
    assert a.critic[0] == "terms: ckd2 is not in the question but CDK2 is"
    assert a.recovered_from is None and a.hits[0]["symbol"] == "CDK2"


def test_a_query_about_another_gene_goes_back_to_the_model_once(tiny_store):
    first = "/v3/query?q=symbol:brca1&species=human&fields=symbol"
    second = "/v3/query?q=symbol:cdk2&species=human&fields=symbol"
    a = _ask(tiny_store, "official symbol of human CDK2", first, second)
    assert len(a.attempts) == 2 and "does not search CDK2" in a.attempts[1]["critic"]
    assert a.model_query == first and a.query == second and a.raw_output == second
    assert a.hits[0]["symbol"] == "CDK2"
    assert a.critic[0].startswith("terms: the query does not search CDK2")
    # the second query is no better: the first one runs, and the trace says so
    a = _ask(tiny_store, "official symbol of human CDK2", first, first)
    assert a.query == first and a.critic[0].endswith("(asked again; kept the first query)")
    # without retries the critic never asks again
    a = _ask(tiny_store, "official symbol of human CDK2", first, retry_invalid=False)
    assert len(a.attempts) == 1 and a.query == first


def test_the_pipeline_runs_the_repaired_query_and_shows_the_repair(tiny_store):
    line = "/v3/query?q=symbol:cdk2&fields=symbol"
    a = _ask(tiny_store, "where is the human CDK2 gene?", line)
    assert a.model_query == line and a.raw_output == line
    assert a.query == "/v3/query?q=symbol:cdk2&fields=symbol,genomic_pos&species=human"
    assert a.critic == [
        "species: the question is about human genes", "fields: the question asks for genomic_pos"
    ]  # fmt: skip
    assert any(n.startswith("the critic checked the model's query") for n in a.notes)
    assert a.hits[0]["symbol"] == "CDK2" and "genomic_pos" in a.hits[0]
    assert a.to_json()["model_query"] == line
    off = _ask(tiny_store, "where is the human CDK2 gene?", line, critic=False)
    assert off.model_query is None and off.critic == [] and off.query == line


def test_a_query_someone_wrote_is_never_criticised(tiny_store):
    s = Settings(model="scripted")
    bot = Assistant(s, model=ScriptedModel([]), backend=EmbeddedBackend(s, store=tiny_store))
    a = bot.run_query("/v3/query?q=symbol:cdk2&fields=symbol", question="where is human CDK2?")
    assert a.critic == [] and a.query == "/v3/query?q=symbol:cdk2&fields=symbol"


# --- never worse than no critic ------------------------------------------------------------------

QUESTION_WORDS = st.sampled_from(
    "human mouse zebrafish worm all species how many count page 2 of 20 second third top 5 "
    "alphabetically highest Entrez ids starting with HOX genes CDK2 p53 ENST00000269305 WP179 "
    "between 12.5 and 13 Mb chr17 chromosome 21 hg19 GRCh37 transcript protein coding "
    "pseudogenes location summary aliases everything skipping the first 50 \" ' : * ( )".split()
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(QUESTION_WORDS, max_size=14), line=st.sampled_from(VALID))
def test_the_critic_never_fails_and_always_leaves_a_valid_query(words, line):
    query = parse_query(line)
    c = critique(" ".join(words), query)
    assert not validate(c.query), (words, line, c.query)
    assert c.query == query or c.fixes  # every change is explained


def test_a_family_the_question_only_implies_is_checked_against_the_data(probe):
    q = parse_query("/v3/query?q=gpcr&species=human")
    assert not critique("human GPCR genes", q, probe).changed  # an acronym, not a family
    # CDK1, CDK2 and CDK4 in the tiny store: a family
    c = critique("human CDK genes", parse_query("/v3/query?q=cdk&species=human"), probe)
    assert c.query.q == "symbol:cdk*"
    # an explicit "starting with" needs no check
    c = critique("human genes starting with GPCR", q, probe)
    assert c.query.q == "symbol:gpcr*"
    # a word with digits that is a gene's own alias names those genes, not a family
    c = critique("the LMP10 genes?", parse_query("/v3/query?q=alias:lmp10&species=human"), probe)
    assert "wildcard" not in [f.rule for f in c.fixes]


def test_listed_examples_and_sort_by_are_read():
    q, _ = fix("List all human histone H2B genes (H2BC1, H2BC3 ...)",
               "/v3/query?q=h2bc&species=human")  # fmt: skip
    assert "q=symbol:h2bc*" in q
    q, _ = fix("Sort human genes on chromosome 21 by name",
               "/v3/query?q=genomic_pos.chr:21&species=human")  # fmt: skip
    assert "sort=name" in q
    q, _ = fix("rat genes on chromosome 1 ordered by Entrez id",
               "/v3/query?q=genomic_pos.chr:1&species=rat")  # fmt: skip
    assert "sort=entrezgene" in q


def test_more_of_what_the_question_settles():
    q, _ = fix("How many genes does the rat have in the store?",
               "/v3/query?q=name:gene&species=rat&size=0")  # fmt: skip
    assert "q=taxid:10116" in q  # "gene" is no term: every rat gene
    q, _ = fix("rat genes on chromosome 1, page 3, 25 per page",
               "/v3/query?q=chr1:25-40&species=rat")  # fmt: skip
    assert "q=genomic_pos.chr:1" in q and "size=25" in q and "from=50" in q
    _, rules = fix("genes near position 7,500,000 on chr17", "/v3/query?q=chr17:7400000-7600000")
    assert "interval" not in rules  # a window the model chose around the question's position
    q, _ = fix('what\'s the official name for the fly gene called "dpp"?',
               '/v3/query?q=name:"dpp"&species=fruitfly')  # fmt: skip
    assert "q=dpp&" in q
    _, rules = fix("Homo sapiens genes named interleukin",
                   '/v3/query?q=name:"interleukin"&species=human')  # fmt: skip
    assert rules == []
    _, rules = fix("Search for anything starting with cdk", "/v3/query?q=cdk*")
    assert "wildcard" not in rules
    q, _ = fix("symbols starting with MIR, sorted by symbol, descending",
               "/v3/query?q=symbol:mir*&sort=-symbol")  # fmt: skip
    assert "sort=-symbol" in q


def test_ids_assemblies_organisms_and_spans_the_question_gives(probe):
    q, _ = fix("ZDB-GENE-990415-33 what gene is that", "/v3/query?q=ZDB-GENE-990415-33")
    assert "q=ZFIN:ZDB-GENE-990415-33" in q  # a bare id searched in its own field
    q, _ = fix("how many human genes are annotated to chemical synaptic transmission GO:0007268",
               '/v3/query?q=go.CC.id:"chemical synaptic transmission"&species=human&size=0')  # fmt: skip
    assert "q=go:0007268" in q
    q, _ = fix("NM_000218 and NM_000527, which genes are they?",
               "POST /v3/query q=NM_000218,NM_000527&scopes=symbol")  # fmt: skip
    assert "scopes=refseq" in q
    q, _ = fix("What are the start and end coordinates of CYP2D6 on GRCh38?",
               "/v3/query?q=symbol:cyp2d6&fields=genomic_pos_hg19")  # fmt: skip
    assert "species=human" in q and "genomic_pos" in q.split("fields=")[1]
    q, _ = fix("chicken PAX7 chromosome location", "/v3/query?q=symbol:pax7&species=human")
    assert "species=9031" in q  # MyGene serves chicken by taxid; the store has none
    q, _ = fix("I'd like every gene in human chr22 from 42.10 to 42.15 Mb, the CYP2D6 region",
               "/v3/query?q=hg19.chr22:4210000-4215000&species=human")  # fmt: skip
    assert "q=chr22:42100000-42150000" in q  # no hg19 the question did not ask for
    q, _ = fix("zebrafish fgf genes alphabetically, results 21 to 40 please",
               "/v3/query?q=symbol:fgf*&species=zebrafish")  # fmt: skip
    assert "size=20" in q and "from=20" in q
    q, _ = fix("among human KCN* genes, the five with the largest NCBI gene numbers",
               "/v3/query?q=symbol:kcn*&species=human&size=5")  # fmt: skip
    assert "sort=-entrezgene" in q
    q, _ = fix("Does GAS5 code for a protein at all?", "/v3/query?q=symbol:gas5&fields=go.CC")
    assert "type_of_gene" in q
    c = critique("count of cdk genes in human",
                 parse_query("/v3/query?q=symbol:cdk&species=human&size=0"), probe)  # fmt: skip
    assert c.query.q == "symbol:cdk*"


def test_what_measures_the_model_sees_its_own_query_not_the_repair(tiny_store, tmp_path):
    from assistant.datagen.roundtrip import RoundTrip
    from assistant.logstore import InteractionLog

    s = Settings(model="scripted")
    backend = EmbeddedBackend(s, store=tiny_store)
    line = "/v3/query?q=symbol:cdk2&species=mouse&fields=symbol"  # the question says human
    bot = Assistant(s, model=ScriptedModel([line, line]), backend=backend)
    trip = RoundTrip(s, backend, bot=bot, mode="ft")
    t = trip.check("the human CDK2 symbol", "/v3/query?q=symbol:cdk2&species=human&fields=symbol")
    assert not t.passed and t.model_query == line  # the critic would have fixed it; not counted
    a = bot.answer("the human CDK2 symbol", mode="ft")
    assert a.model_query == line and "species=human" in a.query
    log = InteractionLog(tmp_path / "log.sqlite", tmp_path / "a.jsonl")
    logged = log.record_answer(a, session="s", kind="ask")
    assert logged.generated == line and logged.query == a.query


@pytest.fixture(scope="module")
def probe(tiny_store):
    """The critic's view of the tiny real store (each call is one backend query)."""
    backend = EmbeddedBackend(Settings(), store=tiny_store)
    asked = []

    def run(query):
        asked.append(query.to_text())
        return backend.query(query)

    run.asked = asked
    return run


def test_an_alias_term_that_is_an_official_symbol_is_searched_as_the_symbol(probe):
    q = parse_query("/v3/query?q=alias:cdk2&fields=genomic_pos&species=human")
    c = critique("Where does CDK2 sit in the human genome?", q, probe)
    assert c.query.q == "symbol:cdk2" and [f.rule for f in c.fixes] == ["alias_symbol"]
    assert "official symbol" in c.fixes[0].note
    # the query's own species is asked; a query without one is about human genes first
    c = critique("In mice, which gene is called Trp53?",
                 parse_query("/v3/query?q=alias:trp53&species=mouse"), probe)  # fmt: skip
    assert c.query.q == "symbol:trp53"
    probe.asked.clear()
    c = critique("What is LMP10?", parse_query("/v3/query?q=alias:lmp10"), probe)
    assert not c.changed
    assert any("symbol:lmp10" in a and "species=human" in a for a in probe.asked)
    # several species, prefixes and other fields are left alone
    for line in ("/v3/query?q=alias:cdk2&species=human,mouse", "/v3/query?q=alias:cdk*",
                 "/v3/query?q=name:cdk2&species=human"):  # fmt: skip
        assert not critique("cdk2", parse_query(line), probe).changed


def test_the_pipeline_searches_an_official_symbol_written_as_an_alias(tiny_store):
    a = _ask(tiny_store, "Where is human CDK2?", "/v3/query?q=alias:cdk2&species=human")
    assert a.model_query.startswith("/v3/query?q=alias:cdk2")
    assert "q=symbol:cdk2" in a.query and any(c.startswith("alias_symbol:") for c in a.critic)
    assert a.hits and a.hits[0]["symbol"] == "CDK2"


# --- the rules written from the kinds of misses of the v3 adapter (issue 13) -----------------------


def fixp(probe, question: str, line: str) -> tuple[str, list[str]]:
    """:func:`fix` with the tiny store as the critic's data."""
    c = critique(question, parse_query(line), probe)
    assert not validate(c.query), c.query
    return c.query.to_text(), [f.rule for f in c.fixes]


def test_the_chromosome_the_question_names_is_a_clause_written_as_the_documents_write_it():
    q, rules = fix("How many pseudogenes sit on the human Y chromosome?",
                   "/v3/query?q=type_of_gene:pseudo AND genomic_pos.chr:human&size=0")  # fmt: skip
    assert "q=type_of_gene:pseudo AND genomic_pos.chr:Y&" in q and "chromosome" in rules
    q, _ = fix("human genes with 'insulin' in the name but not on chromosome 11",
               "/v3/query?q=name:insulin NOT on chromosome 11&species=human")  # fmt: skip
    assert "q=name:insulin AND NOT genomic_pos.chr:11&" in q
    q, _ = fix("How many genes does the human mitochondrial chromosome have?",
               "/v3/query?q=type_of_gene:mitochondrial&species=human&size=0")  # fmt: skip
    assert "q=genomic_pos.chr:MT&" in q
    q, _ = fix("mitochondrial DNA in human - how many genes are annotated on chrM?",
               "/v3/query?q=genomic_pos.chr:chrm&species=human&size=0")  # fmt: skip
    assert "q=genomic_pos.chr:MT&" in q
    q, _ = fix("snoRNA genes on human chromosome 15, count only",
               "/v3/query?q=type_of_gene:snoRNA&species=human&size=0")  # fmt: skip
    assert "q=type_of_gene:snoRNA AND genomic_pos.chr:15&" in q
    # a question about one gene, or one the query already answers, is left alone
    for question, line in (
        ("Is TP53 on chromosome 17?", "/v3/query?q=symbol:tp53&species=human"),
        ("lncRNA genes on chromosome 21", "/v3/query?q=type_of_gene:ncRNA AND genomic_pos.chr:21"),
        ("genes on chromosome 15 or 16", "/v3/query?q=genomic_pos.chr:15 OR genomic_pos.chr:16"),
    ):
        assert "chromosome" not in fix(question, line)[1], question


def test_an_id_given_after_its_field_s_name_is_searched_in_that_field():
    q, rules = fix("rat gene with RGD ID 2998, what is it?", "/v3/gene/2998?fields=name,symbol")
    assert q.startswith("/v3/query?q=RGD:2998&fields=name,symbol") and "field_ids" in rules
    assert "species=rat" in q  # RGD ids are rat genes'
    q, _ = fix("which gene is OMIM 601622?", "/v3/query?q=entrezgene:601622")
    assert "q=MIM:601622" in q
    assert "field_ids" not in fix("RGD id 2998?", "/v3/query?q=RGD:2998")[1]


def test_a_list_of_terms_is_a_batch_with_the_scopes_of_its_shapes():
    q, _ = fix("What genes are ENSG00000141510, ENSG00000012048 and ENSG00000146648?",
               "/v3/query?q=ENSG00000141510,ENSG00000012048,ENSG00000146648&fields=name")  # fmt: skip
    assert q.startswith("POST /v3/query q=ENSG00000141510,ENSG00000012048,ENSG00000146648")
    assert "scopes=ensembl.gene" in q
    q, _ = fix("Map these UniProt accessions to gene symbols: P04637, P38398, P00533.",
               "POST /v3/query q=P04637,P38398,P00533&fields=symbol&scopes=symbol")  # fmt: skip
    assert "scopes=uniprot" in q
    q, _ = fix("breast cancer panel BRCA1 BRCA2 PALB2 CHEK2 ATM — Entrez IDs",
               "POST /v3/query q=BRCA1,BRCA2,PALB2,CHEK2,AT&scopes=symbol")  # fmt: skip
    assert "q=BRCA1,BRCA2,PALB2,CHEK2,ATM&" in q


def test_a_quoted_name_and_a_gene_term_inside_a_phrase():
    q, _ = fix("Official symbol of the mouse gene 'triggering receptor expressed on myeloid cells 2'?",
               "/v3/query?q=alias:triggering&fields=symbol&species=mouse")  # fmt: skip
    assert 'q=name:"triggering receptor expressed on myeloid cells 2"' in q
    q, rules = fix("Is human CDK2 protein-coding?",
                   '/v3/query?q=name:"cdk2 protein-coding"&species=human')  # fmt: skip
    assert "q=CDK2&" in q and "gene_phrase" in rules
    # a phrase the question quotes stays
    q, _ = fix(
        'genes named "CDK2 associated protein"', '/v3/query?q=name:"CDK2 associated protein"'
    )
    assert 'name:"CDK2 associated protein"' in q


def test_a_phrase_that_finds_genes_is_kept(probe):
    q, rules = fixp(probe, "Summary of the human p53 gene, tumor protein p53",
                    '/v3/query?q=name:"tumor protein p53"&species=human&fields=summary')  # fmt: skip
    assert 'name:"tumor protein p53"' in q and "gene_phrase" not in rules


def test_intervals_the_query_lost_are_rebuilt_and_have_a_species():
    q, _ = fix("which genes are on chr11 between 2.4 and 2.9 Mb (human, hg38)?",
               "/v3/query?q=hg18.chr11.position.start BETWEEN 2400000000000000000 AND "
               "2900000000000000000&species=human")  # fmt: skip
    assert "q=chr11:2400000-2900000&" in q
    q, _ = fix("What fly genes lie within 2L:7,300-7,320 kb?",
               "/v3/query?q=chrL:73000000-73200000&species=fruitfly")  # fmt: skip
    assert "q=chr2L:7300000-7320000&" in q
    q, _ = fix("list genes in chrX:31.0-33.5Mb", "/v3/query?q=chrX:31000000-33500000&fields=symbol")
    assert "species=human" in q


def test_sorting_only_where_asked_and_a_position_by_its_start():
    q, _ = fix("Show human genes with 'kinase' in the name, 50 at a time — page 2",
               "/v3/query?q=name:kinase&species=human&size=50&from=50&sort=-name")  # fmt: skip
    assert "sort=" not in q
    q, _ = fix("Genes in chr14:24.30-24.40 Mb (human), ordered by start position",
               "/v3/query?q=chr14:24300000-24400000&species=human&sort=genomic_pos")  # fmt: skip
    assert "sort=genomic_pos.start" in q


def test_a_number_of_an_id_is_no_count_and_a_database_implies_its_species():
    q, _ = fix("FlyBase FBgn number of bicoid (bcd)?",
               "/v3/query?q=symbol:bcd&fields=symbol&size=0")  # fmt: skip
    assert "size=0" not in q and "FLYBASE" in q and "species=fruitfly" in q


def test_a_family_written_in_another_field_or_a_phrase(probe):
    for line in ("/v3/query?q=type_of_gene:cdk&species=human&size=0",
                 '/v3/query?q=name:"cdk"&species=human&size=0'):  # fmt: skip
        q, _ = fixp(probe, "count of cdk genes in human", line)
        assert "q=symbol:cdk*&" in q, line


def test_an_alias_written_as_a_symbol_and_a_species_the_question_never_named(probe):
    # LMP10 is no official symbol but an alias of human PSMB10: searched as the alias, in human
    q, rules = fixp(probe, "What gene is LMP10?", "/v3/query?q=symbol:lmp10&fields=name")
    assert "q=alias:lmp10&" in q and "species=human" in q and "alias_symbol" in rules
    # a species the model added to a question that names none gives way to human
    q, rules = fixp(probe, "Where is CDK4?", "/v3/query?q=symbol:cdk4&species=mouse")
    assert "species=human" in q and "default_species" in rules
    # unless the query finds no human gene (a fly or mouse gene's own symbol)
    q, rules = fixp(probe, "Where is Trp53?", "/v3/query?q=symbol:trp53&species=mouse")
    assert "species=mouse" in q and "default_species" not in rules


def test_a_set_question_gets_the_whole_set_not_the_first_page(probe):
    q, rules = fixp(probe, "list every human gene you have", "/v3/query?q=taxid:9606&species=human")
    total = probe(parse_query("/v3/query?q=taxid:9606&species=human&size=0")).total
    assert total > 10 and f"size={total}" in q and "list_size" in rules
    # a number, a page, a count or one gene's query keeps its size
    for question, line in (
        ("the first 5 human genes", "/v3/query?q=taxid:9606&species=human"),
        ("how many human genes?", "/v3/query?q=taxid:9606&species=human&size=0"),
        ("human CDK genes", "/v3/query?q=symbol:cdk*&species=human"),  # 3 of them: one page
        ("Where is CDK2?", "/v3/query?q=symbol:cdk2&species=human"),
    ):
        assert "list_size" not in fixp(probe, question, line)[1], question

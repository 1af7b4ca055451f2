"""The embedded gene store in-process: build, documents, q syntax, parameters, bad input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError, NotFound, QueryError, StoreBusy
from assistant.store.build import build
from assistant.store.engine import GeneStore, dotted, project


def ids(result) -> list[str]:
    return [h["_id"] for h in result["hits"]]


def symbols(result) -> list[str]:
    return [h.get("symbol") for h in result["hits"]]


# --- build ---------------------------------------------------------------------------------------


def test_build_counts_species_and_sources(tiny_store_path, tiny_settings):
    report = build(tiny_settings, show_progress=False)  # same inputs: nothing to do
    assert report.skipped
    assert report.per_species[9606] == 20
    assert set(report.per_species) == {9606, 10090, 10116, 7955, 7227, 6239, 9823}
    assert report.per_source[9606]["go"] == 14 and report.per_source[9606]["gene_history"] == 1
    table = report.table()
    assert "human" in table and "pig" in table and "ncbi" in table


def test_build_is_idempotent_and_force_rebuilds(tmp_path):
    settings = Settings(
        source_dir=tmp_path / "src",
        store_path=tmp_path / "s.sqlite",
        store_sources="ncbi,summaries",
        store_species="human",
    )
    (tmp_path / "src").mkdir()
    shutil.copy("tests/data/genes/Homo_sapiens.gene_info", tmp_path / "src")
    first = build(settings, show_progress=False)
    assert not first.skipped and first.genes == 17
    mtime = settings.store_path.stat().st_mtime_ns
    assert build(settings, show_progress=False).skipped
    assert settings.store_path.stat().st_mtime_ns == mtime
    forced = build(settings, force=True, show_progress=False)
    assert not forced.skipped and forced.genes == 17


def test_truncated_source_keeps_rows_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    data = open("tests/data/genes/Homo_sapiens.gene_info", "rb").read()
    packed = gzip.compress(data)
    (src / "Homo_sapiens.gene_info.gz").write_bytes(packed[: len(packed) * 2 // 3])
    settings = Settings(
        source_dir=src,
        store_path=tmp_path / "t.sqlite",
        store_sources="ncbi",
        store_species="human",
    )
    report = build(settings, show_progress=False)
    assert 0 < report.genes < 17


def test_build_rejects_unknown_species(tmp_path):
    settings = Settings(store_path=tmp_path / "x.sqlite", store_species="human,martian")
    with pytest.raises(ConfigError, match="martian"):
        build(settings, show_progress=False)


def test_missing_store_says_how_to_build(tmp_path):
    with pytest.raises(Exception, match="store build"):
        GeneStore.open(tmp_path / "none.sqlite")


# --- documents --------------------------------------------------------------------------------


def test_document_shape_like_mygene(tiny_store):
    doc = tiny_store.getgene("1017")
    assert doc["_id"] == "1017" and doc["_version"] == 1
    assert doc["entrezgene"] == 1017 and doc["taxid"] == 9606
    assert doc["symbol"] == "CDK2" and doc["name"] == "cyclin dependent kinase 2"
    assert "CDKN2" in doc["alias"]
    assert doc["HGNC"] == "1771" and doc["MIM"] == "116953"
    assert doc["map_location"] == "12q13.2"
    assert doc["type_of_gene"] == "protein-coding"
    assert "cell cycle" in doc["summary"]
    assert doc["ensembl"]["gene"] == "ENSG00000123374"
    assert doc["genomic_pos"]["chr"] == "12" and doc["genomic_pos"]["strand"] == 1
    assert doc["genomic_pos_hg19"]["start"] == 56360553
    assert "NM_001798.5" in doc["refseq"]["rna"]
    assert doc["uniprot"]["Swiss-Prot"] == "P24941"
    bp = doc["go"]["BP"]
    assert any(t["id"] == "GO:0000082" and t["evidence"] for t in bp)
    reactome = {p["id"] for p in doc["pathway"]["reactome"]}
    assert {"R-HSA-69656", "R-HSA-69242"} <= reactome  # rolled up to the parent pathway
    assert doc["pathway"]["wikipathways"]
    assert doc["retired"] == 100130000


def test_species_other_than_human(tiny_store):
    mouse = tiny_store.query("symbol:cdk2", species="mouse", fields="all")["hits"][0]
    assert mouse["symbol"] == "Cdk2" and mouse["taxid"] == 10090 and mouse["MGI"] == "MGI:104772"
    pig = tiny_store.query("cdk2", species="pig")["hits"]
    assert pig and pig[0]["taxid"] == 9823


# --- q syntax -------------------------------------------------------------------------------------


def test_bare_symbol_ranks_human_first_and_is_case_insensitive(tiny_store):
    r = tiny_store.query("cdk2")
    assert ids(r)[0] == "1017"
    assert [h["taxid"] for h in r["hits"][:2]] == [9606, 10090]  # human boost before mouse
    assert ids(tiny_store.query("CdK2"))[0] == "1017"
    assert r["max_score"] == r["hits"][0]["_score"]


def test_alias_finds_official_symbol(tiny_store):
    assert symbols(tiny_store.query("LMP10"))[0] == "PSMB10"


def test_pure_integer_is_entrez_only(tiny_store):
    r = tiny_store.query("1017")
    assert ids(r) == ["1017"]


def test_bare_words_match_names(tiny_store):
    r = tiny_store.query("tumor protein", species="human")
    assert "TP53" in symbols(r)


def test_a_whole_name_outranks_a_longer_name_whatever_else_the_gene_holds(tiny_store):
    # INS carries a long RefSeq summary and GO terms; a row-length norm (FTS5 bm25) would rank
    # INSR ("insulin receptor") first, as Elasticsearch's per-field norm does not
    assert symbols(tiny_store.query("insulin", species="human"))[:2] == ["INS", "INSR"]
    assert symbols(tiny_store.query("name:insulin", species="human"))[:2] == ["INS", "INSR"]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("symbol:CDK2", "1017"),
        ("symbol:cdk2 AND taxid:9606", "1017"),
        ("go.BP.id:GO\\:0000082", "1017"),
        ("GO:0004693", "1017"),
        ("go:0004693", "1017"),
        ("pathway.reactome.id:R-HSA-69656", "1017"),
        ("refseq:NM_001798", "1017"),
        ("refseq:NM_001798.5", "1017"),
        ("refseq.rna:nm_001798", "1017"),
        ("ensemblgene:ENSG00000123374", "1017"),
        ("ensembl.gene:ensg00000123374", "1017"),
        ("hgnc:1771", "1017"),
        ("HGNC:1771", "1017"),
        ("mim:116953", "1017"),
        ("uniprot:P24941", "1017"),
        ("entrezgene:1017", "1017"),
        ("retired:100130000", "1017"),
        ('name:"cyclin dependent kinase 2"', "1017"),
        ("alias:LMP10", "5699"),
        ("mgi:MGI\\:104772", "12566"),
    ],
)
def test_fielded_terms(tiny_store, q, expected):
    assert expected in ids(tiny_store.query(q, size=50)), q


def test_boolean_operators_and_parentheses(tiny_store):
    both = ids(tiny_store.query("symbol:CDK2 OR symbol:BRCA1", species="human"))
    assert set(both) == {"1017", "672"}
    assert ids(tiny_store.query("symbol:cdk2 AND symbol:brca1")) == []
    without = ids(
        tiny_store.query("(symbol:CDK2 OR symbol:BRCA1) AND NOT symbol:brca1", species="human")
    )
    assert without == ["1017"]
    grouped = tiny_store.query("(interleukin OR insulin) AND receptor", species="human")
    assert {"IL2RA", "INSR"} <= set(symbols(grouped))
    assert not {"CDK2", "TP53"} & set(symbols(grouped))


def test_phrase_and_not(tiny_store):
    r = tiny_store.query('name:"tumor protein" NOT name:binding', species="human")
    assert "TP53" in symbols(r) and "TP53BP1" not in symbols(r)


def test_wildcards(tiny_store):
    cdks = set(symbols(tiny_store.query("cdk*", species="human", size=50)))
    assert {"CDK1", "CDK2", "CDK4"} <= cdks
    assert set(symbols(tiny_store.query("symbol:CDK?", species="human"))) == {
        "CDK1",
        "CDK2",
        "CDK4",
    }
    with pytest.raises(QueryError, match="wildcard"):
        tiny_store.query("*dk2")


def test_ranges(tiny_store):
    r = tiny_store.query("entrezgene:[1000 TO 1020]", size=50)
    assert set(ids(r)) == {"1017", "1019"}
    assert set(ids(tiny_store.query("entrezgene:{1017 TO 1019]"))) == {"1019"}
    assert "1017" in ids(tiny_store.query("genomic_pos.start:>=55966781 AND taxid:9606"))


def test_exists(tiny_store):
    r = tiny_store.query("_exists_:pathway.wikipathways", size=100)
    assert r["total"] >= 5 and all(h["_id"] for h in r["hits"])
    none = tiny_store.query("_exists_:pathway.wikipathways", species="pig")
    assert none["total"] == 0


def test_genome_intervals(tiny_store):
    r = tiny_store.query("chr12:55,966,000-55,973,000", species="human")
    assert ids(r) == ["1017", "ENSG00000258554"]
    # ENSG00000258554 (RP11-973D8.4 in GRCh37) lies in CDK2 on both assemblies
    assert ids(tiny_store.query("hg19.chr12:56360553-56366568")) == ["1017", "ENSG00000258554"]
    assert ids(tiny_store.query("chr12:1-100")) == []


# --- parameters ---------------------------------------------------------------------------------------


def test_default_fields_and_dot_notation(tiny_store):
    hit = tiny_store.query("symbol:cdk2", species="human")["hits"][0]
    assert set(hit) == {"_id", "_score", "symbol", "name", "taxid", "entrezgene"}
    hit = tiny_store.query("symbol:cdk2", species="human", fields="go.BP.id,refseq.rna")["hits"][0]
    assert set(hit) == {"_id", "_score", "go", "refseq"}
    assert all(set(t) == {"id"} for t in hit["go"]["BP"])
    every = tiny_store.query("symbol:cdk2", species="human", fields="all")["hits"][0]
    assert "summary" in every and "go" in every


def test_species_names_taxids_and_all(tiny_store):
    by_name = ids(tiny_store.query("symbol:cdk2", species="human,mouse"))
    by_taxid = ids(tiny_store.query("symbol:cdk2", species=[9606, 10090]))
    assert by_name == by_taxid == ["1017", "12566"]
    assert len(ids(tiny_store.query("symbol:cdk2", species="all"))) >= 5


def test_size_from_and_sort(tiny_store):
    full = ids(tiny_store.query("cdk*", species="human", size=50))
    page = ids(tiny_store.query("cdk*", species="human", size=2, **{"from": 1}))
    assert page == full[1:3]
    asc = tiny_store.query("_exists_:entrezgene", species="human", sort="entrezgene", size=3)
    desc = tiny_store.query("_exists_:entrezgene", species="human", sort="-entrezgene", size=3)
    assert [h["entrezgene"] for h in asc["hits"]] == sorted(h["entrezgene"] for h in asc["hits"])
    assert desc["hits"][0]["entrezgene"] > asc["hits"][-1]["entrezgene"]
    by_symbol = tiny_store.query("symbol:cdk?", species="human", sort="symbol")
    assert symbols(by_symbol) == ["CDK1", "CDK2", "CDK4"]
    assert tiny_store.query("cdk2", size=0)["hits"] == []
    assert tiny_store.query("cdk2", limit=1)["hits"][0]["_id"] == "1017"  # limit = size alias


def test_facets(tiny_store):
    r = tiny_store.query("symbol:cdk2", facets="taxid,type_of_gene", size=0)
    taxa = {t["term"]: t["count"] for t in r["facets"]["taxid"]["terms"]}
    assert taxa[9606] == 1 and taxa[10090] == 1
    assert r["facets"]["taxid"]["_type"] == "terms" and r["facets"]["taxid"]["total"] == r["total"]
    assert r["facets"]["type_of_gene"]["terms"][0] == {
        "term": "protein-coding",
        "count": r["total"],
    }
    small = tiny_store.query("symbol:cdk2", facets="taxid", facet_size=2)
    assert len(small["facets"]["taxid"]["terms"]) == 2 and small["facets"]["taxid"]["other"] > 0
    filtered = tiny_store.query("symbol:cdk2", facets="taxid", species_facet_filter="human")
    assert ids(filtered) == ["1017"] and len(filtered["facets"]["taxid"]["terms"]) > 1


def test_entrezonly_ensemblonly(tiny_store):
    everything = tiny_store.query("_exists_:taxid", size=100)
    entrez = tiny_store.query("_exists_:taxid", size=100, entrezonly="true")
    ensembl = tiny_store.query("_exists_:taxid", size=100, ensemblonly=1)
    assert entrez["total"] < everything["total"]
    assert all(h.get("entrezgene") for h in entrez["hits"])
    assert ensembl["total"] < everything["total"]


def test_exists_and_missing_params(tiny_store):
    with_summary = tiny_store.query("cdk*", species="human", exists="summary", size=50)
    no_summary = tiny_store.query("cdk*", species="human", missing="summary", size=50)
    assert (
        with_summary["total"] + no_summary["total"]
        == tiny_store.query("cdk*", species="human")["total"]
    )


def test_dotfield(tiny_store):
    hit = tiny_store.query(
        "symbol:cdk2", species="human", fields="go.BP.id,genomic_pos.chr", dotfield=True
    )["hits"][0]
    assert "go.BP.id" in hit and hit["genomic_pos.chr"] == "12"
    assert dotted({"a": {"b": 1}}) == {"a.b": 1}
    assert project({"a": {"b": 1, "c": 2}}, ["a.c"]) == {"a": {"c": 2}}


def test_fetch_all_scrolls_in_batches(tiny_store_path):
    store = GeneStore(tiny_store_path, scroll_batch=5)
    first = store.query("_exists_:taxid", fetch_all=True)
    seen = ids(first)
    assert len(seen) == 5 and first["_scroll_id"]
    while True:
        nxt = store.query(None, scroll_id=first["_scroll_id"])
        if nxt.get("success") is False:
            assert nxt["error"] == "No more results to return."
            break
        seen += ids(nxt)
    assert len(seen) == len(set(seen)) == first["total"]
    with pytest.raises(QueryError, match="scroll_id"):
        store.query(None, scroll_id="nope")


def test_querymany_scopes_and_notfound(tiny_store):
    out = tiny_store.querymany(["CDK2", "LMP10", "NOPE1"], scopes="symbol,alias", species="human")
    by_query = {o["query"]: o for o in out}
    assert by_query["CDK2"]["_id"] == "1017"
    assert by_query["LMP10"]["symbol"] == "PSMB10"
    assert by_query["NOPE1"] == {"query": "NOPE1", "notfound": True}
    assert [o["query"] for o in out] == ["CDK2", "LMP10", "NOPE1"]
    default = tiny_store.querymany(
        "1017,ENSG00000141510,100130000"
    )  # entrezgene, ensembl.gene, retired
    assert [o["_id"] for o in default] == ["1017", "7157", "1017"]
    refseq = tiny_store.querymany(["NM_001798"], scopes="refseq", fields="symbol")
    assert refseq[0]["symbol"] == "CDK2"


def test_getgene_by_entrez_ensembl_and_retired(tiny_store):
    assert tiny_store.getgene(1017, fields="symbol") == {
        "_id": "1017",
        "_version": 1,
        "symbol": "CDK2",
    }
    assert tiny_store.getgene("ENSG00000123374", fields="symbol")["_id"] == "1017"
    assert tiny_store.getgene("100130000", fields="symbol")["symbol"] == "CDK2"
    with pytest.raises(NotFound):
        tiny_store.getgene("99999999")
    many = tiny_store.getgenes(["1017", "nope"], fields="symbol")
    assert many[0]["symbol"] == "CDK2" and many[1] == {"query": "nope", "notfound": True}


# --- GRCh37 names and retired Ensembl ids ----------------------------------------------------------


def test_a_grch37_clone_name_finds_its_ensembl_gene(tiny_store):
    """GENCODE 19 named ENSG00000258554 RP11-973D8.4; Ensembl 114 gives it no name. The old name
    is an alias of the one document, found bare, fielded and in any case."""
    for q in ("RP11-973D8.4", "rp11-973d8.4", "alias:RP11-973D8.4", "alias:rp11-973D8.4"):
        assert ids(tiny_store.query(q)) == ["ENSG00000258554"], q
    doc = tiny_store.getgene("ENSG00000258554")
    assert doc["alias"] == "RP11-973D8.4" and doc["genomic_pos_hg19"]["start"] == 56360622
    assert ids(tiny_store.query("symbol:RP11-973D8.4")) == []  # an alias, not the symbol
    # a GRCh37 name equal to the current symbol adds nothing: CDK2 keeps its aliases
    assert "CDK2" not in tiny_store.getgene("1017")["alias"]


def test_a_grch37_only_gene_is_not_created(tiny_store):
    """RP11-80H18.4 (ENSG00000273493) is in the GRCh37 file only: no document, no hit."""
    assert tiny_store.query("RP11-80H18.4")["total"] == 0
    assert tiny_store.query("alias:RP11-80H18.4")["total"] == 0
    with pytest.raises(NotFound):
        tiny_store.getgene("ENSG00000273493")
    assert tiny_store.query("_exists_:taxid", species="human", size=0)["total"] == 20


def test_a_retired_ensembl_id_resolves_to_its_gene(tiny_store):
    """OR4F16 was ENSG00000185097 in GRCh37 and is ENSG00000284662 now, linked by its Entrez
    id: the old id resolves, while ensembl.gene and the document's retired stay truthful."""
    old = "ENSG00000185097"
    assert tiny_store.getgene(old, fields="symbol") == {
        "_id": "81399",
        "_version": 1,
        "symbol": "OR4F16",
    }
    for q in (old, old.lower(), f"retired:{old}", f"{old} AND taxid:9606"):
        assert ids(tiny_store.query(q)) == ["81399"], q
    assert [o["_id"] for o in tiny_store.querymany([old])] == ["81399"]  # default scopes
    assert tiny_store.query(f"ensembl.gene:{old}")["total"] == 0
    assert tiny_store.query(f"ensemblgene:{old}")["total"] == 0
    doc = tiny_store.getgene("81399")
    assert doc["ensembl"]["gene"] == "ENSG00000284662" and "retired" not in doc
    assert doc["genomic_pos_hg19"]["start"] == 621059
    assert ids(tiny_store.query("retired:100130000")) == ["1017"]  # retired Entrez ids as before


REAL_STORE = Path(__file__).resolve().parents[1] / "data" / "store" / "genes.sqlite"


@pytest.mark.skipif(not REAL_STORE.is_file(), reason="the gene store is not built")
@pytest.mark.parametrize(
    "name, gene",
    [
        ("RP11-80H18.4", "ENSG00000273493"),  # Ensembl-only, AC098479.1 now
        ("RP11-153K16.2", "123706510"),  # LINC02566
        ("RP11-206L10.9", "105378580"),  # LINC01409
    ],
)
def test_grch37_names_in_the_built_store(name, gene):
    store = GeneStore.open(REAL_STORE)
    for q in (name, name.lower(), f"alias:{name}"):
        assert ids(store.query(q)) == [gene], q


OR4F_GRCH38 = """\
ENSG00000284662\t81399\tOR4F16\t1\t685716\t686654\t-1\tprotein_coding\tolfactory receptor family 4 subfamily F member 16
ENSG00000284733\t729759\tOR4F29\t1\t450740\t451678\t-1\tprotein_coding\tolfactory receptor family 4 subfamily F member 29
ENSG00000230178\t26683\tOR4F3\t5\t181367268\t181368262\t1\tprotein_coding\tolfactory receptor family 4 subfamily F member 3
"""
OR4F_GRCH37 = "".join(
    f"{ensgene}\t{entrez}\t{name}\t{chrom}\t{start}\t{start + 994}\t1\tprotein_coding\t\n"
    for ensgene, name, chrom, start in (
        ("ENSG00000185097", "OR4F16", "1", 621059),
        ("ENSG00000230178", "OR4F3", "5", 180794269),
        ("ENSG00000235249", "OR4F29", "1", 367640),
    )
    for entrez in (729759, 81399, 26683)
)  # Ensembl 114 GRCh37 links each of the three paralogs to all three Entrez ids


def docset_from(tmp_path, grch38: str, grch37: str):
    from assistant.store import merge
    from assistant.store.sources import SourceFile

    header = "ensgene\tentrez\tsymbol\tchr\tstart\tend\tstrand\tbiotype\tdescription\n"
    ds = merge.DocSet({9606})
    for name, rows, hg19 in (("GRCh38", grch38, False), ("GRCh37", grch37, True)):
        path = tmp_path / f"ensembl114_human_{name}.tsv"
        path.write_text(header + rows)
        merge.apply_ensembl(ds, SourceFile("ensembl", path, 9606, name.lower()), hg19=hg19)
    return ds


def test_grch37_entrez_links_to_several_genes_give_no_names_or_ids(tmp_path):
    """Cross-linked paralogs: each old id reaches three documents, so none is retired on one,
    and no paralog's name becomes another's alias."""
    ds = docset_from(tmp_path, OR4F_GRCH38, OR4F_GRCH37)
    assert len(ds) == 3
    for doc in ds.docs.values():
        assert "alias" not in doc and "_retired_ensembl" not in doc, doc["symbol"]


def test_a_grch37_id_on_another_chromosome_is_not_retired_there(tmp_path):
    """With only OR4F16 in the store, OR4F3's old id (chr5) still links to it by Entrez id: the
    chromosome tells it is another gene. OR4F16's own old id (chr1) is kept."""
    grch37 = "".join(
        line + "\n"
        for line in OR4F_GRCH37.splitlines()
        if "\t81399\t" in line and "OR4F29" not in line
    )
    ds = docset_from(tmp_path, OR4F_GRCH38.splitlines(keepends=True)[0], grch37)
    (doc,) = ds.docs.values()
    assert doc["symbol"] == "OR4F16" and doc["_retired_ensembl"] == ["ENSG00000185097"]
    assert "alias" not in doc


def test_metadata(tiny_store):
    meta = tiny_store.metadata()
    assert meta["biothing_type"] == "gene" and meta["stats"]["total_genes"] == tiny_store.n_genes
    assert meta["taxonomy"]["human"] == 9606
    fields = tiny_store.metadata_fields()
    assert fields["symbol"]["type"] == "keyword" and fields["name"]["type"] == "text"
    assert fields["go"]["type"] == "object"
    assert set(tiny_store.metadata_fields("refseq")) >= {"refseq.rna"}


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.query('symbol:"cdk2'), "quote"),
        (lambda s: s.query("(cdk2 OR brca1"), "parenthes"),
        (lambda s: s.query("cdk2", size=1001), "size"),
        (lambda s: s.query("cdk2", size="ten"), "size"),
        (lambda s: s.query("cdk2", **{"from": 10001}), "from"),
        (lambda s: s.query("cdk2", species="martian"), "cannot map some species"),
        (lambda s: s.query("cdk2", entrezonly="maybe"), "entrezonly"),
        (lambda s: s.query("cdk2", facets="name"), "facet"),
        (lambda s: s.query("cdk2", sort="nonexistent_field"), "unknown field"),
        (lambda s: s.query(""), "q"),
        (lambda s: s.query("   "), "q"),
        (lambda s: s.query("a" * 20_000), "too long"),
        (lambda s: s.query("symbol:/cdk.*/"), "regular expressions"),
        (lambda s: s.query(" OR ".join(f"s{i}" for i in range(1100))), "too many clauses"),
        (lambda s: s.querymany([]), "q"),
        (lambda s: s.querymany([f"g{i}" for i in range(1001)]), "too many terms"),
        (lambda s: s.getgenes([]), "ids"),
        (lambda s: s.getgene(""), "id"),
    ],
)
def test_bad_input_is_a_clear_400(tiny_store, call, message):
    with pytest.raises(QueryError, match=message) as info:
        call(tiny_store)
    assert info.value.status == 400


def test_work_per_query_is_bounded_by_steps_not_time(tiny_store_path):
    heavy = " OR ".join(f"name:w{i}*" for i in range(300))
    # the tiny store is small: count every 100 SQLite steps instead of every 20,000
    store = GeneStore(tiny_store_path, max_steps=5_000, progress_every=100)
    with pytest.raises(QueryError, match="too expensive: it needs more than 5,000") as info:
        store.query(heavy)
    assert info.value.status == 400
    assert store.query("symbol:cdk2")["total"] >= 1  # an ordinary query fits the same budget
    # the work does not depend on the clock: the same query and budget, a second time
    with pytest.raises(QueryError, match="too expensive"):
        store.query(heavy)


def test_a_query_past_the_wall_clock_backstop_is_busy_not_wrong(tiny_store_path):
    store = GeneStore(tiny_store_path, timeout_ms=0)
    with pytest.raises(StoreBusy, match="saturated") as info:
        store.query(" OR ".join(f"name:w{i}*" for i in range(300)))
    assert info.value.status == 503 and info.value.retry_after_s >= 1


def test_unknown_field_gives_no_hits_not_an_error(tiny_store):
    assert tiny_store.query("nosuchfield:cdk2")["total"] == 0


def test_an_empty_and_still_checks_its_other_parts(tiny_store):
    """An AND with an empty part is empty without reading the other parts' rows, but a bad
    part is the same 400 as when every part matches."""
    assert tiny_store.query("nosuchfield:x AND kinase AND NOT receptor")["total"] == 0
    assert tiny_store.query("symbol:cdk2 AND name:nosuchword")["total"] == 0
    for q in ("nosuchfield:x AND /cdk.*/", "symbol:nosuch AND entrezgene:[a TO b]"):
        with pytest.raises(QueryError):
            tiny_store.query(q)
    with pytest.raises(QueryError, match="regular expressions"):
        tiny_store.query("symbol:nosuch AND NOT /cdk.*/")
    # the order parts are read in does not change scores or ranks
    both = tiny_store.query("kinase AND symbol:cdk*", size=50)
    swapped = tiny_store.query("symbol:cdk* AND kinase", size=50)
    assert [(h["_id"], h["_score"]) for h in both["hits"]] == [
        (h["_id"], h["_score"]) for h in swapped["hits"]
    ]
    assert both["total"] > 0

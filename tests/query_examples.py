"""Real query examples shared by test_query.py and test_grammar.py.

VALID: queries from MyGene.info's query documentation and realistic assistant output, each valid
against the shipped schema. INVALID: (query, a fragment of the expected validation message).
SEED_LOG: the original project's query log sample, when shared/ is present on this machine.
"""

from __future__ import annotations

import json

from assistant.config import Settings

VALID = [
    # MyGene.info documentation, "Query syntax"
    "q=cdk2",
    "q=tumor suppressor",
    'q="cyclin-dependent kinase"',
    "q=entrezgene:1017",
    "q=symbol:cdk2",
    "q=refseq:NM_001798",
    "q=ensembl.gene:ENSG00000123374",
    "q=name:cyclin-dependent",
    "q=alias:p33",
    "q=summary:insulin",
    "q=uniprot:P24941",
    "q=homologene:74409",
    "q=go:0000307",
    "q=GO:0004693",
    "q=hgnc:1771",
    "q=mgi:MGI\\:88339",
    "q=interpro:IPR008351",
    "q=reporter:204252_at",
    "q=flybase:FBgn0004107&species=fruitfly",
    "q=zfin:ZDB-GENE-980526-104&species=zebrafish",
    "q=tair:AT3G48750&species=thale-cress",
    "q=chrX:151073054-151383976&species:9606",
    "q=chrX:151,073,054-151,383,976&species:human",
    "q=hg19.chr12:56,360,553-56,366,568&species=human",
    "q=CDK?",
    "q=symbol:CDK?",
    "q=IL*R",
    "q=tumor AND suppressor",
    "q=CDK2 OR BTK",
    'q="tumor suppressor" NOT receptor',
    "q=(interleukin OR insulin) AND receptor",
    # realistic assistant output
    "/v3/query?q=symbol:CDK2&species=human&fields=symbol,name",
    "/v3/query?q=symbol:CDK2 AND taxid:9606&fields=go.BP&size=1",
    '/v3/query?q=go.BP.id:"GO:0000082"&species=human&fields=symbol,go.BP&size=50',
    "/v3/query?q=pathway.reactome.id:R-HSA-69278&species=mouse&fields=symbol,pathway.reactome",
    "/v3/query?q=_exists_:pathway.kegg AND type_of_gene:ncRNA&species=human&size=0&facets=taxid",
    "/v3/query?q=taxid:[9000 TO 10000]&facets=taxid,type_of_gene&facet_size=5&size=0",
    "/v3/query?q=name:kinase~1 AND NOT symbol:CDK*&species=rat&sort=-entrezgene,symbol&from=20",
    "/v3/query?q=symbol:(CDK2 OR CDK4)&species=human,mouse&fields=symbol,genomic_pos",
    "/v3/query?q=cdk2&species=human&exists=uniprot.Swiss-Prot&missing=MIM&entrezonly=true",
    "/v3/query?q=NOTCH1 ANDROGEN ORC1&dotfield=true",
    "/v3/query?q=symbol:BRCA1&fields=all&fetch_all=true",
    "/v3/gene/1017",
    "/v3/gene/1017?fields=go",
    "/v3/gene/ENSG00000123374?fields=symbol,name,refseq.rna&dotfield=true",
    "https://mygene.info/v3/query?q=symbol%3ACDK2%20AND%20taxid%3A9606&fields=symbol%2Cname",
    "POST /v3/query q=CDK2,BRCA1&scopes=symbol&fields=symbol,name&species=human",
    "POST /v3/query q=1017,672&scopes=entrezgene,retired",
    "POST /v3/gene ids=1017,672&fields=symbol",
]

INVALID = [
    ("/v3/query?q=symbl:cdk2", "unknown field 'symbl' in q — did you mean 'symbol'?"),
    ("/v3/query?q=go.BP.idd:GO\\:0000082", "did you mean 'go.BP.id'?"),
    ("/v3/query?q=map_location:12q13", "field 'map_location' in q is not indexed"),
    (
        "/v3/query?q=cdk2&fields=unipro",
        "unknown field 'unipro' in fields — did you mean 'uniprot'?",
    ),
    ("/v3/query?q=cdk2&fields=ensemble.gene", "did you mean 'ensembl.gene'?"),
    ("/v3/query?q=cdk2&sort=-entrezgen", "unknown field 'entrezgen' in sort"),
    ("/v3/query?q=cdk2&facets=taxd", "unknown field 'taxd' in facets — did you mean 'taxid'?"),
    ("/v3/query?q=_exists_:pathway.keg", "unknown field 'pathway.keg' in _exists_"),
    ("/v3/query?q=cdk2&exists=refsq", "unknown field 'refsq' in exists"),
    (
        "/v3/query?q=cdk2&species=humna",
        "unknown species 'humna' in species — did you mean 'human'?",
    ),
    ("/v3/query?q=cdk2&species=homo sapiens", "unknown species 'homo sapiens'"),
    ("/v3/query?q=cdk2&size=1001", "size must be at most 1000, got 1001"),
    ("/v3/query?q=cdk2&limit=ten", "size must be an integer from 0 to 1000, got 'ten'"),
    ("/v3/query?q=cdk2&skip=10001", "from must be at most 10000"),
    ("/v3/query?q=cdk2&facet_size=-1", "facet_size must be at least 0"),
    ("/v3/query?q=cdk2&entrezonly=maybe", "entrezonly must be true or false"),
    ("/v3/query?q=cdk2&format=html", "unknown parameter 'format'"),
    ("/v3/query?q=cdk2&sise=5", "unknown parameter 'sise' — did you mean 'size'?"),
    ('/v3/query?q="tumor suppressor', "unbalanced quotes"),
    ("/v3/query?q=(interleukin OR insulin AND receptor", "unbalanced parentheses"),
    ("/v3/query?q=interleukin)", "a ) closes nothing"),
    ("/v3/query?q=symbol:CDK2 AND", "q cannot be parsed"),
    ("/v3/query?q=*kinase", "a wildcard cannot start a term"),
    ("/v3/query?q=chrX:1-100 AND symbol:cdk2", "must be the whole q"),
    ("/v3/query?q=hg38.chr1:100-200", "unknown assembly 'hg38'"),
    ("/v3/query?q=cdk2&scopes=symbol", "parameter 'scopes' is only used with POST requests"),
    ("/v3/query?fields=symbol", "q is missing"),
    ("/v3/query?q=", "q is empty"),
    ("/v3/gene/1017?size=5", "parameter 'size' does not apply to /v3/gene"),
    ("/v3/gene/1017?fields=ensembl.gene=all", "unknown field 'ensembl.gene=all' in fields"),
    ("/v3/gene/", "a gene id is missing"),
    ("POST /v3/query q=CDK2&scopes=symbl", "unknown field 'symbl' in scopes"),
    ("POST /v3/gene fields=symbol", "ids is missing"),
]

MALFORMED = [
    "what genes does TP53 regulate?",
    "/v1/chem/DB00619?fields=drugbank",
    "/v3/metadata/fields",
    "/v3/api/",
    'POST /v3/query {"q": ["CDK2"]',
    "",
]


def seed_log() -> list[str] | None:
    """The seed query log's queries, or None when shared/ is not on this machine."""
    path = Settings().seed_dir / "query_log_sample.jsonl"
    if not path.exists():
        return None
    return [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]

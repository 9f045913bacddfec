# Downloads and materialisation of datasets into resources/.


rule fetch_ucr:
    output:
        train="resources/timeseries/{dataset}/train.npz",
        test="resources/timeseries/{dataset}/test.npz",
    params:
        source=TS.get("source", "auto"),
        extract_path="resources/ucr_archive",
        unequal_length=TS.get("unequal_length", "error"),
        missing=TS.get("missing", "error"),
    conda:
        "../envs/cnnpractice.yaml"
    log:
        "logs/fetch_ucr/{dataset}.log",
    benchmark:
        "benchmarks/fetch_ucr/{dataset}.tsv"
    script:
        "../scripts/fetch_ucr.py"


rule fetch_smalldata:
    output:
        directory("resources/smalldata/raw/{sd_dataset}"),
    params:
        source=SD.get("source", "auto"),
    conda:
        "../envs/cnnpractice.yaml"
    log:
        "logs/fetch_smalldata/{sd_dataset}.log",
    benchmark:
        "benchmarks/fetch_smalldata/{sd_dataset}.tsv"
    script:
        "../scripts/fetch_smalldata.py"


rule prepare_wordnet:
    output:
        directory("resources/nltk_data/corpora/wordnet"),
    params:
        source=SEM.get("wordnet", "auto"),
    conda:
        "../envs/cnnpractice.yaml"
    log:
        "logs/prepare_wordnet/wordnet.log",
    benchmark:
        "benchmarks/prepare_wordnet/wordnet.tsv"
    script:
        "../scripts/prepare_wordnet.py"

# Every download: datasets and corpora into resources/ (the studies' own rules prepare them).


rule fetch_ucr:
    output:
        train="resources/timeseries/{dataset}/train.npz",
        test="resources/timeseries/{dataset}/test.npz",
    log:
        "logs/fetch_ucr/{dataset}.log",
    benchmark:
        "benchmarks/fetch_ucr/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        source=TS.get("source", "auto"),
        extract_path="resources/ucr_archive",
        unequal_length=TS.get("unequal_length", "error"),
        missing=TS.get("missing", "error"),
    script:
        "../scripts/fetch_ucr.py"


rule fetch_smalldata:
    output:
        directory("resources/smalldata/raw/{sd_dataset}"),
    log:
        "logs/fetch_smalldata/{sd_dataset}.log",
    benchmark:
        "benchmarks/fetch_smalldata/{sd_dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        source=SD.get("source", "auto"),
    script:
        "../scripts/fetch_smalldata.py"


rule prepare_wordnet:
    output:
        directory("resources/nltk_data/corpora/wordnet"),
    log:
        "logs/prepare_wordnet/wordnet.log",
    benchmark:
        "benchmarks/prepare_wordnet/wordnet.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        source=SEM.get("wordnet", "auto"),
    script:
        "../scripts/prepare_wordnet.py"


rule fetch_cifar100:
    output:
        directory("resources/semantic/raw/cifar100"),
    log:
        "logs/fetch_cifar100/cifar100.log",
    benchmark:
        "benchmarks/fetch_cifar100/cifar100.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/fetch_cifar100.py"


rule fetch_oasis:
    output:
        "resources/brain/oasis/fetch.json",
    log:
        "logs/fetch_oasis/fetch.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        discs=BR.get("oasis", {}).get("discs"),
    script:
        "../scripts/fetch_oasis.py"

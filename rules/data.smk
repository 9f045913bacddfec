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

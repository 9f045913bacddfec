# Every download: datasets, corpora, the atlas and pretrained weights into resources/ (the
# studies' own rules prepare them). Downloads run where Snakemake runs (localrules: cluster
# nodes often have no internet); each goes through cnnpractice.data.downloads (the config's
# `downloads` section: mirror, checksum manifest), archives wait in resources/downloads/
# until unpacked, and first downloads without a published checksum are recorded there.
# Their resources say what they need (minutes, MB of memory and disk) for local scheduling.
# Scripts read `downloads` from the config, not params: a new mirror reruns nothing.
# A failed download is retried (a dropped connection, a server's hiccup; each transfer also
# times out after 60 s without data): archives already verified stay in resources/downloads,
# so a retry fetches only what is missing.
DOWNLOAD_RETRIES = 2


localrules:
    fetch_ucr,
    fetch_smalldata,
    prepare_wordnet,
    fetch_cifar100,
    fetch_oasis,
    fetch_brain_atlas,
    fetch_torch_weights,


rule fetch_ucr:
    output:
        train="resources/timeseries/{dataset}/train.npz",
        test="resources/timeseries/{dataset}/test.npz",
    log:
        "logs/fetch_ucr/{dataset}.log",
    benchmark:
        "benchmarks/fetch_ucr/{dataset}.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=30,
        mem_mb=2000,
        disk_mb=500,
    params:
        source=TS.get("source", "auto"),
        extract_path="resources/ucr_archive",
        unequal_length=TS.get("unequal_length", "error"),
        missing=TS.get("missing", "error"),
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_ucr.py"


rule fetch_smalldata:
    output:
        directory("resources/smalldata/raw/{sd_dataset}"),
    log:
        "logs/fetch_smalldata/{sd_dataset}.log",
    benchmark:
        "benchmarks/fetch_smalldata/{sd_dataset}.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=smalldata_fetch_runtime,
        mem_mb=2000,
        disk_mb=12000,  # Food-101: the 5 GB archive and its 5 GB of images, at once
    params:
        source=SD.get("source", "auto"),
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_smalldata.py"


rule prepare_wordnet:
    output:
        directory("resources/nltk_data/corpora/wordnet"),
    log:
        "logs/prepare_wordnet/wordnet.log",
    benchmark:
        "benchmarks/prepare_wordnet/wordnet.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=15,
        mem_mb=1000,
        disk_mb=200,
    params:
        source=SEM.get("wordnet", "auto"),
        downloads_dir=DL_DIR,
    script:
        "../scripts/prepare_wordnet.py"


rule fetch_cifar100:
    output:
        directory("resources/semantic/raw/cifar100"),
    log:
        "logs/fetch_cifar100/cifar100.log",
    benchmark:
        "benchmarks/fetch_cifar100/cifar100.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=30,
        mem_mb=1000,
        disk_mb=500,
    params:
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_cifar100.py"


rule fetch_oasis:
    output:
        "resources/brain/oasis/fetch.json",
    log:
        "logs/fetch_oasis/fetch.log",
    benchmark:
        "benchmarks/fetch_oasis/fetch.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=720,  # 12 discs, about 16 GB: hours on a slow link
        mem_mb=2000,
        disk_mb=40000,  # the unpacked discs, and one archive at a time
    params:
        discs=BR.get("oasis", {}).get("discs"),
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_oasis.py"


rule fetch_brain_atlas:
    output:
        directory("resources/nilearn_data/fsl"),
    log:
        "logs/fetch_brain_atlas/harvard_oxford.log",
    benchmark:
        "benchmarks/fetch_brain_atlas/harvard_oxford.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=15,
        mem_mb=1000,
        disk_mb=100,
    params:
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_brain_atlas.py"


rule fetch_torch_weights:
    output:
        f"{TORCH_HOME}/hub/checkpoints/{{weights_file}}",
    log:
        "logs/fetch_torch_weights/{weights_file}.log",
    benchmark:
        "benchmarks/fetch_torch_weights/{weights_file}.tsv"
    retries: DOWNLOAD_RETRIES
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=30,
        mem_mb=1000,
        disk_mb=600,  # VGG16: 528 MB
    params:
        url=torch_weights_url,
        downloads_dir=DL_DIR,
    script:
        "../scripts/fetch_torch_weights.py"


# not a download (ImageNet cannot be downloaded): the user's copy, read once, checked
# complete, and laid out under resources/ (never inside the copy); runs on any node
rule prepare_imagenet:
    output:
        directory(SEM_IMAGENET),
    log:
        "logs/prepare_imagenet/imagenet.log",
    benchmark:
        "benchmarks/prepare_imagenet/imagenet.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        runtime=120,
        mem_mb=4000,
        disk_mb=8000,  # the 6.4 GB of validation images
    params:
        root=imagenet_settings().get("root"),
        split=imagenet_settings()["split"],
        expected=imagenet_settings().get("expected"),
    script:
        "../scripts/prepare_imagenet.py"

# Study 2 of the talk ("interpretability"): Alzheimer's detection on brain MRI. Stages:
# template grid (MNI152 + atlas) -> cohort (synthetic, or OASIS-1: fetch_oasis in data.smk) -> affine
# (+ optional nonlinear) alignment in shards + QC table -> named slice configurations -> 2D
# CNN, every subject-level fold in one job (+ linear SVM on voxels) -> metrics table;
# per-filter brain models, dBMS and ranked atlas regions of the interpreted configuration's
# models -> permutation nulls (trained, untrained, voxel t-map) -> regions table, figures;
# the leakage experiment (slice- vs subject-level splits, true vs shuffled labels) -> table.


rule prepare_brain_template:
    input:
        unpack(br_atlas_inputs),
    output:
        BR_TEMPLATE,
    log:
        "logs/prepare_brain_template/template.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        template=BR.get("template"),
        atlas_dir=br_atlas_dir(),
    script:
        "../scripts/prepare_brain_template.py"


rule make_brain_cohort:
    input:
        unpack(br_source_inputs),
    output:
        subjects="results/brain/cohort/subjects.csv",
        summary="results/brain/cohort/cohort.json",
        volumes=directory("results/brain/cohort/volumes"),
    log:
        "logs/make_brain_cohort/cohort.log",
    benchmark:
        "benchmarks/make_brain_cohort/cohort.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        settings=br_cohort_settings,
        seed=config["seed"],
    script:
        "../scripts/make_brain_cohort.py"


rule align_brain:
    input:
        cohort=rules.make_brain_cohort.output.subjects,
        truth=rules.make_brain_cohort.output.summary,
        volumes=rules.make_brain_cohort.output.volumes,
        template=rules.prepare_brain_template.output,
    output:
        directory("results/brain/aligned/shard{br_shard}"),
    log:
        "logs/align_brain/shard{br_shard}.log",
    benchmark:
        "benchmarks/align_brain/shard{br_shard}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    params:
        alignment=br_alignment,
        shards=len(br_shards()),
        seed=config["seed"],
    script:
        "../scripts/align_brain.py"


rule collect_brain_qc:
    input:
        br_shard_dirs,
    output:
        csv="results/brain/qc.csv",
        md=report("results/brain/qc.md", caption="../report/brain_qc.rst", category="Brain MRI"),
    log:
        "logs/collect_brain_qc/qc.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        min_correlation=BR.get("alignment", {}).get("min_correlation"),
    script:
        "../scripts/collect_brain_qc.py"


rule slice_brain:
    input:
        qc=rules.collect_brain_qc.output.csv,
        template=rules.prepare_brain_template.output,
    output:
        x="results/brain/slices/{br_input}/x.npy",
        meta="results/brain/slices/{br_input}/meta.npz",
        info="results/brain/slices/{br_input}/info.json",
    log:
        "logs/slice_brain/{br_input}.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        spec=br_input_spec,
        size=BR.get("slice_size"),
    script:
        "../scripts/slice_brain.py"


rule train_brain:
    input:
        x=rules.slice_brain.output.x,
        meta=rules.slice_brain.output.meta,
    output:
        ckpt=br_fold_outputs("{br_input}", "model.ckpt"),
        metrics=br_fold_outputs("{br_input}", "metrics.csv"),
        result=br_fold_outputs("{br_input}", "test.json"),
        predictions=br_fold_outputs("{br_input}", "predictions.csv"),
        fold=br_fold_outputs("{br_input}", "fold.json"),
        tensorboard=[directory(p) for p in br_fold_outputs("{br_input}", "tensorboard")],
    log:
        "logs/train_brain/{br_input}.log",
    benchmark:
        "benchmarks/train_brain/{br_input}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=60, mem_mb=6000),
    params:
        folds=BR.get("cv", {}).get("folds"),
        cnn=BR.get("cnn"),
        training=BR.get("training"),
        trainer=trainer_settings(),
        seed=config["seed"],
    script:
        "../scripts/train_brain.py"


rule train_brain_leakage:
    input:
        x=f"results/brain/slices/{BR_LEAKAGE_INPUT}/x.npy",
        meta=f"results/brain/slices/{BR_LEAKAGE_INPUT}/meta.npz",
    output:
        ckpt=br_fold_outputs("leakage/{br_arm}", "model.ckpt"),
        metrics=br_fold_outputs("leakage/{br_arm}", "metrics.csv"),
        result=br_fold_outputs("leakage/{br_arm}", "test.json"),
        predictions=br_fold_outputs("leakage/{br_arm}", "predictions.csv"),
        fold=br_fold_outputs("leakage/{br_arm}", "fold.json"),
        tensorboard=[directory(p) for p in br_fold_outputs("leakage/{br_arm}", "tensorboard")],
    log:
        "logs/train_brain_leakage/{br_arm}.log",
    benchmark:
        "benchmarks/train_brain_leakage/{br_arm}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=60, mem_mb=6000),
    params:
        folds=BR.get("cv", {}).get("folds"),
        cnn=BR.get("cnn"),
        training=BR.get("training"),
        trainer=trainer_settings(),
        seed=config["seed"],
    script:
        "../scripts/train_brain_leakage.py"


rule tabulate_brain_leakage:
    input:
        unpack(br_leakage_folds),
        meta=f"results/brain/slices/{BR_LEAKAGE_INPUT}/meta.npz",
        reference=reference_file("brain"),
    output:
        csv=report("results/brain/leakage.csv", caption="../report/brain_leakage.rst", category="Brain MRI"),
        md="results/brain/leakage.md",
    log:
        "logs/tabulate_brain_leakage/leakage.log",
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/tabulate_brain_leakage.py"


rule svm_brain:
    input:
        qc=rules.collect_brain_qc.output.csv,
        template=rules.prepare_brain_template.output,
    output:
        "results/brain/svm/folds.json",
    log:
        "logs/svm_brain/svm.log",
    benchmark:
        "benchmarks/svm_brain/svm.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        svm=BR.get("svm"),
        folds=BR.get("cv", {}).get("folds"),
        seed=config["seed"],
    script:
        "../scripts/svm_brain.py"


rule tabulate_brain_metrics:
    input:
        folds=br_fold_jsons,
        svm=br_svm_input,
        reference=reference_file("brain"),
    output:
        csv=report("results/brain/metrics.csv", caption="../report/brain_metrics.rst", category="Brain MRI"),
        md="results/brain/metrics.md",
    log:
        "logs/tabulate_brain_metrics/metrics.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        inputs=br_inputs_param,
        source=BR.get("source"),
    script:
        "../scripts/tabulate_brain_metrics.py"


rule interpret_brain:
    input:
        ckpt="results/brain/{br_input}/fold{br_fold}/model.ckpt",
        result="results/brain/{br_input}/fold{br_fold}/test.json",
        x=rules.slice_brain.output.x,
        meta=rules.slice_brain.output.meta,
        template=rules.prepare_brain_template.output,
    output:
        BR_INTERPRET_OUTPUTS,
    log:
        "logs/interpret_brain/{br_input}/fold{br_fold}.log",
    benchmark:
        "benchmarks/interpret_brain/{br_input}/fold{br_fold}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    resources:
        mem_mb=br_interpret_mem_mb,
    params:
        cuts=BR.get("interpret", {}).get("sagittal_cuts_mm"),
        seed=config["seed"],
    script:
        "../scripts/interpret_brain.py"


rule permute_brain_regions:
    input:
        ckpt=br_interpret_selected("model.ckpt"),
        result=br_interpret_selected("test.json"),
        summary=br_interpret_selected("interpret/summary.json"),
        x=f"results/brain/slices/{BR_LEAKAGE_INPUT}/x.npy",
        meta=f"results/brain/slices/{BR_LEAKAGE_INPUT}/meta.npz",
        qc=rules.collect_brain_qc.output.csv,
        template=rules.prepare_brain_template.output,
    output:
        csv="results/brain/nulls/regions_null.csv",
        json="results/brain/nulls/null.json",
    log:
        "logs/permute_brain_regions/nulls.log",
    benchmark:
        "benchmarks/permute_brain_regions/nulls.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    resources:
        mem_mb=br_interpret_mem_mb_selected,
    params:
        nulls=BR.get("nulls"),
        seed=config["seed"],
    script:
        "../scripts/permute_brain_regions.py"


rule tabulate_brain_regions:
    input:
        regions=br_interpret_regions,
        null_csv=rules.permute_brain_regions.output.csv,
        null_json=rules.permute_brain_regions.output.json,
        cohort=rules.make_brain_cohort.output.summary,
        reference=reference_file("brain"),
    output:
        csv=report("results/brain/regions.csv", caption="../report/brain_regions.rst", category="Brain MRI"),
        md="results/brain/regions.md",
    log:
        "logs/tabulate_brain_regions/regions.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        fold=br_interpret_fold,
        top=BR.get("interpret", {}).get("top"),
        source=BR.get("source"),
    script:
        "../scripts/tabulate_brain_regions.py"

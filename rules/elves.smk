# Study 3 of the talk ("customization"): elves in the Pierre Auger Observatory's
# fluorescence-detector movies. Stages: simulated events in shards (elves with per-event
# nuisances, cosmic-ray showers, laser shots, lightning, noise; a "nominal" test split
# without nuisances) -> a CNN that detects elves, CNNs that locate the lightning and measure
# its current from one eye and from all eyes, and the analytic baseline (timing fit, one eye
# and stereo) on the same held-out elves -> detection, reconstruction and sanity tables, figures.


rule simulate_elves:
    output:
        "results/elves/simulated/{el_split}/shard{el_shard}.npz",
    log:
        "logs/simulate_elves/{el_split}/shard{el_shard}.log",
    benchmark:
        "benchmarks/simulate_elves/{el_split}/shard{el_shard}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    params:
        settings=el_simulation,
        events=el_shard_events,
        seed=config["seed"],
    script:
        "../scripts/simulate_elves.py"


rule train_elves_detector:
    input:
        train=el_train_shards,
        test=el_test_shards,
    output:
        ckpt="results/elves/detector/model.ckpt",
        metrics="results/elves/detector/metrics.csv",
        result="results/elves/detector/test.json",
        tensorboard=directory("results/elves/detector/tensorboard"),
    log:
        "logs/train_elves_detector/train.log",
    benchmark:
        "benchmarks/train_elves_detector/train.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=60, mem_mb=6000),
    params:
        settings=el_simulation,
        cnn=el_detector_cnn,
        training=el_detector_training,
        trainer=trainer_settings(),
        seed=config["seed"],
        task="detector",
        options=el_detector_options,
    script:
        "../scripts/train_elves.py"


rule train_elves_locator:
    input:
        train=el_train_shards,
        test=el_test_shards,
        nominal=el_nominal_shards,
    output:
        ckpt="results/elves/locator/{el_eyes}/model.ckpt",
        metrics="results/elves/locator/{el_eyes}/metrics.csv",
        result="results/elves/locator/{el_eyes}/test.json",
        tensorboard=directory("results/elves/locator/{el_eyes}/tensorboard"),
    log:
        "logs/train_elves_locator/{el_eyes}.log",
    benchmark:
        "benchmarks/train_elves_locator/{el_eyes}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=60, mem_mb=6000),
    params:
        settings=el_simulation,
        cnn=el_locator_cnn,
        training=el_locator_training,
        trainer=trainer_settings(),
        seed=config["seed"],
        task="locator",
        options=el_locator_options,
    script:
        "../scripts/train_elves.py"


rule fit_elves:
    input:
        shard=el_fit_shard,
    output:
        "results/elves/fit/{el_test}/shard{el_shard}.npz",
    log:
        "logs/fit_elves/{el_test}/shard{el_shard}.log",
    benchmark:
        "benchmarks/fit_elves/{el_test}/shard{el_shard}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    params:
        settings=el_simulation,
        fit=el_fit_settings,
    script:
        "../scripts/fit_elves.py"


rule tabulate_elves:
    input:
        unpack(el_table_inputs),
        detector=rules.train_elves_detector.output.result,
    output:
        detection_csv=report(
            "results/elves/detection.csv",
            caption="../report/elves_detection.rst",
            category="Elves",
        ),
        detection_md="results/elves/detection.md",
        reconstruction_csv=report(
            "results/elves/reconstruction.csv",
            caption="../report/elves_reconstruction.rst",
            category="Elves",
        ),
        reconstruction_md="results/elves/reconstruction.md",
        events_csv="results/elves/reconstruction_events.csv",
    log:
        "logs/tabulate_elves/tables.log",
    benchmark:
        "benchmarks/tabulate_elves/tables.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        settings=el_simulation,
        distance_bins=el_distance_bins,
        eye_sets=el_eye_sets(),
        test_sets=el_test_sets(),
        seed=config["seed"],
    script:
        "../scripts/tabulate_elves.py"


rule check_elves_physics:
    input:
        test=el_test_shards,
    output:
        csv=report(
            "results/elves/sanity.csv",
            caption="../report/elves_sanity.rst",
            category="Elves",
        ),
        md="results/elves/sanity.md",
    log:
        "logs/check_elves_physics/sanity.log",
    benchmark:
        "benchmarks/check_elves_physics/sanity.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        settings=el_simulation,
    script:
        "../scripts/check_elves_physics.py"


rule plot_elve_frames:
    input:
        shard="results/elves/simulated/test/shard0.npz",
    output:
        report(
            "results/elves/elve_frames.png",
            caption="../report/elves_frames.rst",
            category="Elves",
        ),
    log:
        "logs/plot_elve_frames/frames.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        settings=el_simulation,
        seed=config["seed"],
    script:
        "../scripts/plot_elve_frames.py"


rule plot_elves_errors:
    input:
        events=rules.tabulate_elves.output.events_csv,
    output:
        report(
            "results/elves/location_errors.png",
            caption="../report/elves_errors.rst",
            category="Elves",
        ),
    log:
        "logs/plot_elves_errors/errors.log",
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/plot_elves_errors.py"

"""Per-class mean activations of the configured layers of every network of one model (trained
seeds, untrained twins), streamed over the dataset's images."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    seeds = list(snakemake.params.seeds)
    stages.extract_semantic_activations(
        out_dir=snakemake.output[0],
        network=dict(snakemake.params.network),
        dataset=dict(snakemake.params.dataset),
        layers=list(snakemake.params.layers),
        seeds=seeds,
        modules=dict(snakemake.params.modules),
        ckpts={seed: snakemake.input[f"ckpt{seed}"] for seed in seeds if f"ckpt{seed}" in snakemake.input.keys()},
        untrained=snakemake.params.untrained,
        pooling=snakemake.params.pooling,
        batch_size=snakemake.params.batch_size,
        accelerator=snakemake.params.accelerator,
        workers=max(0, snakemake.threads - 1),
        config_key=f"semantic.models.{snakemake.wildcards.sem_model}.layers",
    )

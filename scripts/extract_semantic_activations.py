"""Per-class mean activations of the configured layers, streamed over the dataset's images."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.extract_semantic_activations(
        out_dir=snakemake.output[0],
        network=dict(snakemake.params.network),
        dataset=dict(snakemake.params.dataset),
        layers=list(snakemake.params.layers),
        modules=dict(snakemake.params.modules),
        ckpt=snakemake.input.get("ckpt"),
        pooling=snakemake.params.pooling,
        batch_size=snakemake.params.batch_size,
        accelerator=snakemake.params.accelerator,
        workers=max(0, snakemake.threads - 1),
        config_key=f"semantic.models.{snakemake.wildcards.sem_model}.layers",
    )

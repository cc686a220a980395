rule summarize:
    input:
        results=prune_results(),
        train_metrics=expand(rules.train.output.metrics, seed=SEED),
    output:
        csv="results/summary.csv",
    log:
        "logs/summarize.log",
    benchmark:
        "benchmarks/summarize.tsv"
    threads: 1
    # Peak RSS of its work (pandas, 20 JSON files) measured alone: 69 MB.
    resources:
        mem_mb=300,
    conda:
        "../../envs/plots.yaml"
    script:
        "../scripts/summarize.py"


rule plot_curves:
    input:
        csv=rules.summarize.output.csv,
        train_metrics=expand(rules.train.output.metrics, seed=SEED),
    output:
        figures=expand("results/plots/{metric}_vs_k.{ext}", metric=CURVE_METRICS, ext=config["plots"]["formats"]),
    params:
        metrics=CURVE_METRICS,
        dpi=config["plots"]["dpi"],
    log:
        "logs/plot_curves.log",
    benchmark:
        "benchmarks/plot_curves.tsv"
    threads: 1
    # Peak RSS measured with the default config: 117 MB.
    resources:
        mem_mb=300,
    conda:
        "../../envs/plots.yaml"
    script:
        "../scripts/plot_curves.py"


rule plot_matrices:
    input:
        model=expand(rules.train.output.model, seed=SEED),
    output:
        figures=expand("results/plots/matrices_{{method}}.{ext}", ext=config["plots"]["formats"]),
    params:
        k=config["plots"]["matrices_k"],
        prune_output_layer=lambda wildcards: prunes_output_layer(wildcards.method),
        dpi=config["plots"]["dpi"],
    log:
        "logs/plot_matrices/{method}.log",
    benchmark:
        "benchmarks/plot_matrices/{method}.tsv"
    threads: 1
    # Peak RSS measured with the default network: 846 MB.
    resources:
        mem_mb=1200,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/plot_matrices.py"

rule summarize:
    input:
        results=prune_results(),
        train_metrics=expand(TRAIN_METRICS, seed=SEEDS),
    output:
        csv=report(
            "results/summary.csv",
            caption="../report/summary_csv.rst",
            category="Summary",
            labels={"table": "every column (CSV download)"},
        ),
        means=report(
            "results/summary_mean.csv",
            caption="../report/summary_mean.rst",
            category="Summary",
            labels={"table": "mean and std over seeds (CSV download)"},
        ),
        html=report(
            "results/summary.html",
            caption="../report/summary_table.rst",
            category="Summary",
            labels={"table": "main columns"},
        ),
    log:
        "logs/summarize.log",
    benchmark:
        "benchmarks/summarize.tsv"
    threads: 1
    # Peak RSS of its work (pandas, 20 JSON files) measured alone: 69 MB.
    resources:
        mem_mb=300,
        runtime=10,
    conda:
        "../../envs/plots.yaml"
    script:
        "../scripts/summarize.py"


rule plot_curves:
    input:
        csv=rules.summarize.output.csv,
        train_metrics=expand(TRAIN_METRICS, seed=SEEDS),
    output:
        figures=[
            in_report(f"results/plots/{metric}_vs_k.{ext}", f"../report/{metric}.rst",
                      "Curves", {"figure": CURVE_TITLES[metric]})
            for metric in CURVE_METRICS
            for ext in config["plots"]["formats"]
        ],
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
        runtime=10,
    conda:
        "../../envs/plots.yaml"
    script:
        "../scripts/plot_curves.py"


rule plot_matrices:
    input:
        model=expand(MODEL_PATH, seed=SEED),
    output:
        figures=[
            in_report(f"results/plots/matrices_{{method}}.{ext}", "../report/matrices.rst",
                      "Pruned matrices", {"method": "{method}"})
            for ext in config["plots"]["formats"]
        ],
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
        runtime=10,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/plot_matrices.py"


# The config as the run saw it, defaults filled in, for the report. Any
# config change reruns this rule only, since nothing depends on it but all.
rule record_config:
    output:
        yaml=report(
            "results/config.yaml",
            caption="../report/config.rst",
            category="Config",
            labels={"file": "config.yaml (download)"},
        ),
        html=report(
            "results/config.html",
            caption="../report/config.rst",
            category="Config",
            labels={"file": "settings"},
        ),
    params:
        config=config,
    log:
        "logs/record_config.log",
    benchmark:
        "benchmarks/record_config.tsv"
    threads: 1
    resources:
        mem_mb=300,
        runtime=5,
    conda:
        "../../envs/plots.yaml"
    script:
        "../scripts/record_config.py"

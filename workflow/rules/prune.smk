rule prune_evaluate:
    input:
        model=rules.train.output.model,
        npz=rules.fetch_mnist.output.npz,
    output:
        json="results/prune/seed{seed}/{method}/{scope}/ft{finetune}/k{k}.json",
    params:
        prune_output_layer=prune_output_layer,
        batch_size=config["evaluate"]["batch_size"],
        timing_repeats=config["evaluate"]["timing_repeats"],
    log:
        "logs/prune_evaluate/seed{seed}/{method}/{scope}/ft{finetune}/k{k}.log",
    benchmark:
        "benchmarks/prune_evaluate/seed{seed}/{method}/{scope}/ft{finetune}/k{k}.tsv"
    threads: config["threads"]["evaluate"]
    # Peak RSS measured with the default network: 1,040 MB at most over the sweep.
    resources:
        mem_mb=1400,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/prune_evaluate.py"

# One rule per method, because each method saves its fast form in its own
# format: weight pruning a CSR npz, unit pruning a compact .keras model.
# A model that is not a chain of Dense layers has no fast form, so its
# jobs save the masked pruned model instead.
for method, form_file in (("weight", "sparse.npz"), ("unit", "compact.keras")):

    rule:
        name:
            f"prune_evaluate_{method}"
        input:
            model=MODEL_PATH,
            npz=DATA_NPZ,
        output:
            json=f"results/prune/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}.json",
            **model_output(method, form_file),
        params:
            method=method,
            scope=scope_of(method),
            prune_output_layer=prunes_output_layer(method),
            batch_size=config["evaluate"]["batch_size"],
            timing_repeats=config["evaluate"]["timing_repeats"],
            single_image_calls=config["evaluate"]["single_image_calls"],
            finetune=lambda wildcards: finetune_settings(wildcards.finetune),
        log:
            f"logs/prune_evaluate/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}.log",
        benchmark:
            f"benchmarks/prune_evaluate/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}.tsv"
        threads: config["threads"]["evaluate"]
        # Peak RSS measured with the default network: 1,040 MB at most over the sweep.
        resources:
            mem_mb=1400,
            runtime=20,
            **gpu_resources("evaluate"),
        conda:
            "../../envs/prunelab.yaml"
        script:
            "../scripts/prune_evaluate.py"


# tfmot's prune_low_magnitude, fine-tuned for tfmot.epochs, from the same
# model and data. Its weights are copied back into the Keras 3 model and
# measured like the weight jobs, sparse form included. It runs in its own
# environment, since tfmot needs Keras 2 (tf_keras).
rule prune_evaluate_tfmot:
    input:
        model=MODEL_PATH,
        npz=DATA_NPZ,
    output:
        json="results/prune/seed{seed}/tfmot/{scope}/ft{finetune}/k{k}.json",
        **model_output("tfmot", "sparse.npz"),
    params:
        prune_output_layer=prunes_output_layer("weight"),
        batch_size=config["evaluate"]["batch_size"],
        timing_repeats=config["evaluate"]["timing_repeats"],
        single_image_calls=config["evaluate"]["single_image_calls"],
        finetune=lambda wildcards: finetune_settings(wildcards.finetune),
    log:
        "logs/prune_evaluate/seed{seed}/tfmot/{scope}/ft{finetune}/k{k}.log",
    benchmark:
        "benchmarks/prune_evaluate/seed{seed}/tfmot/{scope}/ft{finetune}/k{k}.tsv"
    threads: config["threads"]["evaluate"]
    resources:
        mem_mb=2000,
        runtime=30,
        **gpu_resources("evaluate"),
    conda:
        "../../envs/tfmot.yaml"
    script:
        "../scripts/prune_tfmot.py"

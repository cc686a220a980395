# One rule per method, because each method saves its fast form in its own
# format: weight pruning a CSR npz, unit pruning a compact .keras model.
for method, form_file in (("weight", "sparse.npz"), ("unit", "compact.keras")):

    rule:
        name:
            f"prune_evaluate_{method}"
        input:
            model=rules.train.output.model,
            npz=rules.fetch_mnist.output.npz,
        output:
            json=f"results/prune/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}.json",
            form=f"results/prune/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}.{form_file}",
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

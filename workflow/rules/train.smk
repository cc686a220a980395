if MODEL_FILE is None:

    rule train:
        input:
            npz=DATA_NPZ,
        output:
            model=MODEL_PATH,
            history="results/train/seed{seed}/history.csv",
            metrics=TRAIN_METRICS,
        params:
            hidden_units=config["train"]["hidden_units"],
            epochs=config["train"]["epochs"],
            batch_size=config["train"]["batch_size"],
            learning_rate=config["train"]["learning_rate"],
            lr_schedule=config["train"]["lr_schedule"],
            validation_fraction=config["train"]["validation_fraction"],
        log:
            "logs/train/seed{seed}.log",
        benchmark:
            "benchmarks/train/seed{seed}.tsv"
        threads: config["threads"]["train"]
        # Peak RSS measured with the default network: 1,512 MB.
        resources:
            mem_mb=2000,
            runtime=60,
            **gpu_resources("train"),
        conda:
            "../../envs/prunelab.yaml"
        script:
            "../scripts/train.py"

else:

    # The user's model, checked with Keras against the data, copied where a
    # trained model would be, with its test scores and the list of the
    # layers that pruning changes. No pruning job starts if it fails.
    rule import_model:
        input:
            model_file=MODEL_FILE,
            npz=DATA_NPZ,
        output:
            model=MODEL_PATH,
            metrics=TRAIN_METRICS,
        params:
            batch_size=config["evaluate"]["batch_size"],
        log:
            "logs/import_model/seed{seed}.log",
        benchmark:
            "benchmarks/import_model/seed{seed}.tsv"
        threads: config["threads"]["evaluate"]
        resources:
            mem_mb=2000,
            runtime=20,
            **gpu_resources("evaluate"),
        conda:
            "../../envs/prunelab.yaml"
        script:
            "../scripts/import_model.py"


# Which layers each method of the run prunes, with their shapes. A rule of
# its own, so that changing the methods rewrites this file only.
rule describe_model:
    input:
        model=MODEL_PATH,
    output:
        layers="results/train/seed{seed}/layers.json",
    params:
        methods=config["methods"],
        prune_output_layer=config["prune"]["prune_output_layer"],
    log:
        "logs/describe_model/seed{seed}.log",
    benchmark:
        "benchmarks/describe_model/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=1200,
        runtime=5,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/describe_model.py"

rule train:
    input:
        npz=rules.fetch_mnist.output.npz,
    output:
        model="results/train/seed{seed}/model.keras",
        history="results/train/seed{seed}/history.csv",
        metrics="results/train/seed{seed}/metrics.json",
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

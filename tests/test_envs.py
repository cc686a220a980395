"""The conda environments in envs/ agree with pyproject.toml and cover each rule's imports."""

import ast
import re
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from workflow_helpers import REPO

# Import names whose distribution has another name.
DISTRIBUTIONS = {"yaml": "pyyaml", "tf_keras": "tf-keras",
                 "tensorflow_model_optimization": "tensorflow-model-optimization"}
# Names that scripts receive without importing an installed package.
PROVIDED = {"snakemake", "use_checkout", "prunelab"}


def pyproject_requirements():
    """Return {name: Requirement} of the dependencies and every extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    return {canonicalize_name(Requirement(text).name): Requirement(text) for text in texts}


def env_requirements(path):
    """Return {name: SpecifierSet} of a conda environment file, pip section included."""
    env = yaml.safe_load(path.read_text())
    found = {}
    for entry in env["dependencies"]:
        texts = entry["pip"] if isinstance(entry, dict) else [entry]
        for text in texts:
            # Conda writes python=3.11 where pip writes python==3.11.*.
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)=([\d.]+)", text)
            if match:
                text = f"{match.group(1)}=={match.group(2)}.*"
            requirement = Requirement(text)
            found[canonicalize_name(requirement.name)] = requirement.specifier
    return found


def rule_envs():
    """Return [(rule, env file, script)] for every rule with a conda env and a script."""
    found = []
    for rules_file in sorted((REPO / "workflow/rules").glob("*.smk")):
        text = rules_file.read_text()
        for block in re.split(r"\n(?=\s*rule[ :])", text):
            # A rule made in a loop has its name under name:.
            name = (re.search(r"^\s*rule (\w+):", block, re.MULTILINE)
                    or re.search(r"name:\s*\n\s*(f?\"[^\"]+\")", block))
            conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", block)
            script = re.search(r"script:\s*\n\s*\"([^\"]+)\"", block)
            if name and conda and script:
                found.append((
                    name.group(1),
                    (rules_file.parent / conda.group(1)).resolve(),
                    (rules_file.parent / script.group(1)).resolve(),
                ))
    return found


def imported_packages(script):
    """Return the top-level packages a script imports, following prunelab's own modules."""
    packages = set()
    seen = set()
    queue = [script]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "prunelab":
                    module = REPO / (name.replace(".", "/") + ".py")
                    if module.is_file():
                        queue.append(module)
                    elif (REPO / name.replace(".", "/") / "__init__.py").is_file():
                        queue.append(REPO / name.replace(".", "/") / "__init__.py")
                packages.add(top)
    return {package for package in packages
            if package not in sys.stdlib_module_names and package not in PROVIDED}


def test_every_rule_has_env_and_script():
    rules = rule_envs()
    names = {name for name, _, _ in rules}
    assert {"fetch_data", "train", "import_model", "summarize", "plot_curves",
            "plot_matrices", "record_config", "prune_evaluate_tfmot"} <= names
    for _, env, script in rules:
        assert env.is_file(), env
        assert script.is_file(), script


@pytest.mark.parametrize("rule, env, script", rule_envs(), ids=lambda value: getattr(value, "name", value))
def test_env_has_what_rule_imports(rule, env, script):
    available = set(env_requirements(env))
    for package in sorted(imported_packages(script)):
        assert canonicalize_name(DISTRIBUTIONS.get(package, package)) in available, (
            f"rule {rule} imports {package}, which {env.name} does not list")


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda path: path.name)
def test_env_versions_match_pyproject(env):
    required = pyproject_requirements()
    for name, specifier in env_requirements(env).items():
        if name in required:
            assert specifier == required[name].specifier, (
                f"{env.name} asks for {name}{specifier}, pyproject.toml for "
                f"{name}{required[name].specifier}")


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda path: path.name)
def test_env_python_allowed_by_pyproject(env):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    python = env_requirements(env)["python"]
    version = str(python).removeprefix("==").removesuffix(".*")
    assert version in SpecifierSet(project["requires-python"])


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda path: path.name)
def test_env_channels(env):
    assert yaml.safe_load(env.read_text())["channels"] == ["conda-forge", "nodefaults"]

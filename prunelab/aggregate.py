"""Mean and spread of a sweep's results over training seeds."""

import pandas as pd

# Columns that identify a point of the sweep, apart from the seed.
POINT_COLUMNS = ["method", "scope", "finetune_epochs", "k"]


def over_seeds(summary):
    """Return the mean and standard deviation over seeds of each numeric column.

    Args:
        summary: DataFrame with one row per (seed, method, scope,
            finetune_epochs, k), as results/summary.csv.

    Returns:
        DataFrame with one row per (method, scope, finetune_epochs, k): the
        column seeds (how many seeds the row averages), then {column}_mean
        and {column}_std for each numeric column. The standard deviation is
        the sample one (n - 1 in the denominator), empty for one seed.
    """
    keys = [column for column in POINT_COLUMNS if column in summary]
    numeric = [column for column in summary.select_dtypes("number").columns
               if column not in keys and column != "seed"]
    groups = summary.groupby(keys, sort=True)
    result = groups["seed"].nunique().rename("seeds").to_frame()
    means = groups[numeric].mean().add_suffix("_mean")
    stds = groups[numeric].std(ddof=1).add_suffix("_std")
    columns = [name for column in numeric for name in (f"{column}_mean", f"{column}_std")]
    result = pd.concat([result, means, stds], axis=1)[["seeds", *columns]]
    return result.reset_index()

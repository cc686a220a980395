"""Fine-tuning keeps the pruning masks: pruned entries stay exactly 0.0 under Adam."""

import keras
import numpy as np
import pytest

from prunelab import finetune as tuning
from prunelab import model as models


@pytest.fixture
def arrays():
    # 370 training images at batch 10 give 37 steps per epoch, a prime count.
    generator = np.random.default_rng(3)
    return {
        "x_train": generator.integers(0, 256, (370, 4, 4), dtype=np.uint8),
        "y_train": generator.integers(0, 3, 370).astype(np.uint8),
    }


def trained_pruned(method, k=0.5):
    keras.utils.set_random_seed(1)
    model = models.build_mlp(16, [12, 8], 3)
    return models.prune_model(model, k, method)


class ZeroWatcher(keras.callbacks.Callback):
    """Record, after every step, the largest pruned entry in absolute value."""

    def __init__(self, masks):
        super().__init__()
        self.masks = masks
        self.largest = []

    def on_train_batch_end(self, batch, logs=None):
        worst = 0.0
        for layer in models.dense_layers(self.model):
            if layer.name in self.masks:
                kernel_mask, bias_mask = self.masks[layer.name]
                worst = max(worst, float(np.max(np.abs(layer.get_weights()[0] * (1 - kernel_mask)))))
                if bias_mask is not None:
                    worst = max(worst, float(np.max(np.abs(layer.get_weights()[1] * (1 - bias_mask)))))
        self.largest.append(worst)


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_pruned_entries_zero_after_every_step(arrays, method):
    pruned, layers = trained_pruned(method)
    masks = tuning.pruning_masks(pruned, layers, method)
    watcher = ZeroWatcher(masks)
    tuning.finetune(pruned, masks, arrays, epochs=2, batch_size=10, learning_rate=0.01,
                    validation_fraction=0.0, seed=0, callbacks=[watcher])
    assert len(watcher.largest) == 74
    assert max(watcher.largest) == 0.0


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_sparsity_unchanged_by_finetuning(arrays, method):
    pruned, layers = trained_pruned(method)
    before = [kernel.copy() for kernel in models.kernels_of(pruned)]
    masks = tuning.pruning_masks(pruned, layers, method)
    tuning.finetune(pruned, masks, arrays, epochs=1, batch_size=10, learning_rate=0.01,
                    validation_fraction=0.1, seed=0)
    after = models.kernels_of(pruned)
    for old, new in zip(before[:-1], after[:-1]):
        assert np.array_equal(old == 0, new == 0)
    # The weights that were kept did change: fine-tuning trained them.
    assert not np.array_equal(before[0], after[0])


def test_unit_biases_stay_removed(arrays):
    pruned, layers = trained_pruned("unit")
    masks = tuning.pruning_masks(pruned, layers, "unit")
    tuning.finetune(pruned, masks, arrays, epochs=1, batch_size=10, learning_rate=0.05,
                    validation_fraction=0.0, seed=0)
    kernel, bias = pruned.get_layer("hidden_1").get_weights()
    removed = ~np.any(kernel != 0, axis=0)
    assert removed.sum() == 6
    assert np.all(bias[removed] == 0.0)


def test_adam_regrows_without_masks(arrays):
    # The check above can fail: without the mask callback, Adam moves the
    # pruned entries on the very first steps.
    pruned, layers = trained_pruned("weight")
    masks = tuning.pruning_masks(pruned, layers, "weight")
    watcher = ZeroWatcher(masks)
    models.compile_model(pruned, 0.01, "constant")
    x = models.prepare_inputs(arrays["x_train"])
    pruned.fit(x, arrays["y_train"].astype(np.int64), epochs=1, batch_size=10, verbose=0,
               callbacks=[watcher])
    assert max(watcher.largest) > 0.0


def test_output_layer_not_masked_by_default(arrays):
    pruned, layers = trained_pruned("weight")
    masks = tuning.pruning_masks(pruned, layers, "weight")
    assert sorted(masks) == ["hidden_1", "hidden_2"]


def test_zero_epochs_rejected(arrays):
    pruned, layers = trained_pruned("weight")
    masks = tuning.pruning_masks(pruned, layers, "weight")
    with pytest.raises(ValueError, match="fine-tuning epochs must be at least 1, received 0"):
        tuning.finetune(pruned, masks, arrays, epochs=0, batch_size=10, learning_rate=0.01,
                        validation_fraction=0.0, seed=0)


@pytest.mark.slow
def test_finetuning_job_keeps_sparsity(tmp_path, mnist_npz):
    import json

    from workflow_helpers import snakemake, tiny_config, write_config

    config = tiny_config(mnist_npz)
    config["finetune"] = {"epochs": [0, 1]}
    write_config(tmp_path, config)
    targets = [f"results/prune/seed0/{method}/layer/ft{epochs}/k0.9000.json"
               for method in ("weight", "unit") for epochs in (0, 1)]
    snakemake(tmp_path, "--cores", "2", *targets)
    results = {target: json.loads((tmp_path / target).read_text()) for target in targets}
    for method in ("weight", "unit"):
        untuned = results[f"results/prune/seed0/{method}/layer/ft0/k0.9000.json"]
        tuned = results[f"results/prune/seed0/{method}/layer/ft1/k0.9000.json"]
        assert tuned["finetune_epochs"] == 1
        assert tuned["achieved_sparsity"] == untuned["achieved_sparsity"]
        # One tenth of the training rate 0.003.
        assert tuned["finetune_learning_rate"] == pytest.approx(0.0003)
        assert len(tuned["finetune_val_accuracy"]) == 1
        assert tuned["form_same_classes"]
        # No optimizer state in the saved fine-tuned model.
        assert tuned["masked_bytes"] == untuned["masked_bytes"]
        assert tuned["test_loss"] != untuned["test_loss"]
    log = (tmp_path / "logs/prune_evaluate/seed0/unit/layer/ft1/k0.9000.log").read_text()
    assert "fine-tuning for 1 epoch on" in log

"""The per-trial metrics a verdict can judge, each with its declared direction (never guessed from its name),
and the two shapes of metric that change how a kind tests them: censored (a time to target, right-censored
at the trial's budget) and binary (0 or 1 per seed, compared as counts)."""

from __future__ import annotations

# Per-trial metrics a verdict can judge, with the direction in which each is better.
TRIAL_METRICS = {
    "final_val_accuracy": "max",
    "best_val_accuracy": "max",
    "train_accuracy": "max",
    "test_accuracy": "max",
    "test_macro_f1": "max",
    "test_macro_precision": "max",
    "test_macro_recall": "max",
    "test_balanced_accuracy": "max",
    "test_roc_auc": "max",
    "test_pr_auc": "max",
    "reached_target": "max",
    # a regression's (data.task: regression): R² higher, errors (in the label's units) lower
    "final_val_r2": "max",
    "best_val_r2": "max",
    "train_r2": "max",
    "test_r2": "max",
    **{f"{split}_{error}": "min" for split in ("train", "val", "test") for error in ("rmse", "mae")},
    "generalization_gap": "min",
    "test_loss": "min",
    "train_loss": "min",
    "initial_loss": "min",
    "epochs_to_target": "min",
    "steps_to_target": "min",
    "examples_to_target": "min",
    "time_to_target_s": "min",
    "epochs_run": "min",
    "best_epoch": "min",
    "train_time_s": "min",
    "epoch_time_s": "min",
    "near_zero_weights": "max",
    "diverged": "min",
    # a cell's nuisance search (the same value on every seed of the cell)
    "search_best_val_accuracy": "max",
    "search_epochs_to_target": "min",
    "tuned_log10_learning_rate": "max",  # the decade of the rate the trial's search chose (a tuned study)
    # diagnostics (with diagnostics: [activations] / [gradients]); directions matter only for best_at
    "act_std_first_init": "max",
    "act_std_last_init": "max",
    "act_std_ratio_init": "max",
    "saturated_init": "min",
    "saturated_final": "min",
    "dead_init": "min",
    "dead_final": "min",
    "off_init": "min",
    "off_final": "min",
    "grad_ratio_init": "max",
    "grad_ratio_final": "max",
    "grad_ratio_log10_init": "max",
    "grad_ratio_log10_final": "max",
    "grad_first_init": "max",
    "grad_first_final": "max",
}
CENSORED_METRICS = ("epochs_to_target", "steps_to_target", "examples_to_target", "time_to_target_s", "search_epochs_to_target")
BINARY_METRICS = ("diverged", "reached_target")  # 0 or 1 per seed: compared as counts, not means

"""Full-ranking evaluation: metrics over every item of the catalogue, and paired bootstrap."""

from automl_rec.evaluation.bootstrap import BootstrapInterval, paired_bootstrap
from automl_rec.evaluation.metrics import EvaluationResult, evaluate, evaluate_holdout, top_k

__all__ = ["BootstrapInterval", "EvaluationResult", "evaluate", "evaluate_holdout", "paired_bootstrap", "top_k"]

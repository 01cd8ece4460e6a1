"""Full-ranking evaluation: metrics over every item of the catalogue, and paired bootstrap."""

from automl_rec.evaluation.bootstrap import BootstrapInterval, paired_bootstrap
from automl_rec.evaluation.metrics import EvaluationResult, evaluate, evaluate_holdout, top_k
from automl_rec.evaluation.sampling import SEARCH_VALIDATION_USERS, sample_holdout

__all__ = ["SEARCH_VALIDATION_USERS", "BootstrapInterval", "EvaluationResult", "evaluate",
           "evaluate_holdout", "paired_bootstrap", "sample_holdout", "top_k"]

from .engine import Allocation, Evaluation, evaluate
from .loader import RulesError, load_rules
from .schema import Rule

__all__ = ["Allocation", "Evaluation", "Rule", "RulesError", "evaluate", "load_rules"]

"""The rules file: its schema, its loader (file:line errors) and the engine (a pure function)."""
from .engine import Allocation, CertFusion, Evaluation, Offering, evaluate
from .loader import RulesError, load_rules
from .schema import Rule

__all__ = ["Allocation", "CertFusion", "Evaluation", "Offering", "Rule", "RulesError", "evaluate",
           "load_rules"]

"""chainer.providers: the one seam every video host is reached through (see base.py)."""
from .base import (FindResult, Failure, Lookup, Price, Provider, ProviderRequest, TaskStatus,
                   decide_ownership, normalise_base_url, open_provider, register, registered,
                   valid_task_id)
from .poll import PollPolicy

__all__ = ["Provider", "ProviderRequest", "TaskStatus", "FindResult", "Lookup", "Failure", "Price",
           "PollPolicy", "decide_ownership", "normalise_base_url", "open_provider", "register",
           "registered", "valid_task_id"]

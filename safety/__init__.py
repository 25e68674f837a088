"""The safety evaluation: the eval set and its generator, the model judge, the side-by-side report.

Pure parts live elsewhere and are reused here: the prompt templates in ``tasks/safety_*.py``,
the rule judge in ``scoring/refusal.py``, the metrics in ``scoring/safety.py``, the
OpenAI-compatible chat client in ``common/chat_client.py``. This package holds what touches
files or the network: ``eval_set`` (build, write and load the JSON eval set), ``generate``
(its command), ``model_judge`` (a judge behind a chat endpoint) and ``report`` (base vs tuned,
side by side).
"""

"""Task families, their phrasings, generators and the answer check.

Importing any module of this package registers every family (``tasks/families.py`` fills
``tasks.registry.REGISTRY`` as it is imported): the registry is never seen half empty, whatever
a process imports first. Without this, ``tasks.solve.answer_is_wrong`` in a process that had
not imported ``tasks.families`` read no family, and so found no answer wrong.
"""

from tasks import families as _families  # noqa: F401  (registers the families)

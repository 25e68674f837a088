"""The validator's own checks of a CoT sample: the right answer to a task prompt, emptiness.

The answer check reads a prompt through the task registry (``tasks/registry.py``): every
family's keywords and operand parser run over the canonical text (``common.text.canonical``:
Unicode NFKC, look-alike letters folded, invisible characters removed, whitespace collapsed,
casefolded), so any registered phrasing, and most other phrasings that name a family's
operation and its operands, are read, whatever spacing, ids or look-alike letters were added.

A prompt can allow several readings (a padded prompt names extra numbers; two families'
keywords can both occur): the check keeps them all, and a final answer is *wrong* only when
it matches none of them. So a right answer is never charged, and a wrong one escapes only
by coinciding with another reading's answer. A prompt no family reads (a teacher model's own
problem, say) is left to the model; on the embedded base the model alone does not yet price
wrong answers below right ones (docs/SCORING.md, "The quality ladder").
"""

from __future__ import annotations

from tasks.registry import REGISTRY, verify


def solve(prompt: str) -> set[str] | None:
    """Every answer a family's reading of ``prompt`` allows, or None if no family reads it."""
    return REGISTRY.solve(prompt)


# A chain of thought shorter than this says nothing: "=2+2, 4." is 8 characters, the shortest
# reasoning a task family could have. Below it a CoT SFT sample teaches only the answer format.
MIN_REASONING_CHARS = 8


def empty_reason(chain_of_thought: str, final_answer: str) -> str | None:
    """Why a CoT sample is too empty to be training data (None when it is not).

    Near-empty samples (no reasoning, an answer with no letter or digit) are invalid: there is
    nothing in them to measure, so they are not trained on, and they lower the accepted share.
    """
    if len(chain_of_thought.strip()) < MIN_REASONING_CHARS:
        return f"reasoning shorter than {MIN_REASONING_CHARS} characters"
    if not any(ch.isalnum() for ch in final_answer):
        return "final answer has no letter or digit"
    return None


def answer_is_wrong(prompt: str, answer: str) -> bool:
    """True when a family reads ``prompt`` and ``answer`` matches none of its readings."""
    expected = solve(prompt)
    return expected is not None and not any(verify(answer, e) for e in expected)

"""Prompts for the registry's tasks in words the registry does not hold: an outsider's phrasing.

Written the way a teacher model asked to "write a problem of this kind" tends to phrase it:
longer, polite, bracketed lists, "Could you ...". Six per family, none of them a registry
phrasing (``tests/tasks/test_quality.py`` checks that), used only by the quality ladder's
"other words" rungs and the local network's teacher-style honest miner. They must stay out of
``tasks/families.py``: the point is that the validator has never seen them, so data phrased
this way earns only by teaching the skill.

Slots are the families' (``Family.slots``): ``{list}``, ``{list_c}``, ``{words}``,
``{words_c}``, ``{a}``, ``{b}``, ``{name}``, ``{item}``.
"""

from __future__ import annotations

OUTSIDE_PHRASINGS: dict[str, tuple[str, ...]] = {
    "list_reverse": (
        "Could you write out the sequence {list_c} starting from its last element?",
        "Here are some numbers: {list}. Please give them in reversed sequence.",
        "I have a list [{list_c}]. What does it look like turned around?",
        "Starting with the final number and ending with the first, restate: {list_c}",
        "Turn {list} around so the last number comes first.",
        "Rewrite the sequence {list_c} going backward.",
    ),
    "list_max": (
        "Among the values {list_c}, which one is the greatest?",
        "Here is a set of numbers: {list}. Tell me the maximum.",
        "{name} measured {list_c}. What was the top reading?",
        "Identify the largest entry in [{list_c}].",
        "What's the biggest value you can find in {list}?",
        "Determine the maximum element of the sequence {list_c}.",
    ),
    "word_sort": (
        "Please arrange the following words in alphabetical order: {words_c}.",
        "Can you alphabetize this list for me? {words}",
        "Sort the words {words_c} the way they'd appear in a dictionary.",
        "I need these in A-Z order: {words}",
        "Reorder alphabetically: [{words_c}]",
        "Here are some words: {words}. List them alphabetically.",
    ),
    "addition": (
        "What do you get when you add {a} to {b}?",
        "{name} had {a} {item} and was given {b} more. What is the total number of {item}?",
        "Calculate {a} + {b} for me.",
        "If I combine {a} and {b}, what's the sum?",
        "Please find the sum: {a} and {b}.",
        "There are {a} {item} in one jar and {b} in another. How many altogether?",
    ),
}

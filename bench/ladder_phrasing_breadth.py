"""Does a base that read its tasks in more surroundings read an outsider's phrasing? (issue 10)

Run: ``.venv/bin/python bench/ladder_phrasing_breadth.py --arm shipped|control|widened|relisted
--steps 3000 [--seeds 5] [--save DIR]`` (about 10 min for 3,000 steps on one thread, then
about 40 s a seed).

The base as a judge of each served sample prices wrong answers in the registry's phrasings
(it disputes nearly all of them and a fifth of right ones), but it cannot read an outsider's
phrasing and disputes half of right data phrased that way (docs/SCORING.md, "Five more
model-only signals"). The shipped base read each task in 16 PUBLIC phrasings, each of them
the whole prompt. This trains it further on its own pretraining rows (``--arm control``), on
the same rows with every task prompt set between a random sentence before and after it
(``--arm widened``: ``BEFORE`` and ``AFTER``, none of them an outsider phrasing's words), the
same with the task's list of numbers also written another way (``--arm relisted``), or not
at all (``--arm shipped``). It then measures greedy accuracy per family and share, and per
rung (correct, correct in other words, wrong, wrong in other words) the share of served
samples whose answer the model gives too and the share it disputes
(``bench/ladder_wrong_signals.py``'s ``judge``), over all 64 samples and per family.
If reading a task in more surroundings taught the base to read a teacher's phrasing, the
``correct_other_words`` agreement would rise towards ``correct``'s.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import seed_samples
from bench.ladder_verifier import continue_pretraining
from bench.ladder_wrong_signals import judge
from protocol.schemas import CotSample
from tasks.families import NAMES
from tasks.quality import Quality
from tasks.registry import REGISTRY
from validator.model.base import load_base
from validator.model.pretrain import (
    DEFAULT_PRETRAIN,
    TextRow,
    batches,
    competence,
    encode_rows,
    pretrain_texts,
    save_base,
)
from validator.model.recipe import ANSWER_MARKER, PROMPT_SUFFIX

# Sentences around a task, none of them words of ``tasks/outside_phrasings.py``: what the
# base learns from them is to find the task inside other text, not a teacher's wording.
BEFORE = ("", "Task: ", "Question: ", "{name} asks: ", "Homework. ", "Quick one. ", "Try this: ")
AFTER = ("", " Thanks.", " Show the steps.", " Be careful.", " Take your time.", " Go on.")


class Arm(StrEnum):
    """What the shipped base is trained further on, if anything."""

    SHIPPED = "shipped"  # nothing: the base as it ships
    CONTROL = "control"  # its own pretraining rows
    WIDENED = "widened"  # the same rows, task prompts inside other sentences
    RELISTED = "relisted"  # the same, lists of numbers also written other ways


JUDGED = (Quality.CORRECT, Quality.CORRECT_OTHER_WORDS, Quality.WRONG, Quality.WRONG_OTHER_WORDS)


# A list of numbers as the registry writes it (spaces or commas), and other ways to write it:
# (opening, separator, closing).
_LIST = re.compile(r"\[?\d+(?:(?:, | )\d+)+\]?")
_LIST_FORMS = (("", " ", ""), ("", ", ", ""), ("[", ", ", "]"), ("", "; ", ""), ("(", ", ", ")"))


def _relisted(task: str, rng: random.Random) -> str:
    """``task`` with its list of numbers written another way (``_LIST_FORMS``)."""
    match = _LIST.search(task)
    if match is None:
        return task
    opening, separator, closing = rng.choice(_LIST_FORMS)
    listed = opening + separator.join(re.findall(r"\d+", match.group())) + closing
    return task[: match.start()] + listed + task[match.end() :]


def widened(rows: list[TextRow], seed: int, relist: bool = False) -> list[TextRow]:
    """``rows`` with each task prompt set between a random sentence before and after it.

    With ``relist``, a task's list of numbers is also written in one of ``_LIST_FORMS``.
    """
    rng = random.Random(seed)
    out: list[TextRow] = []
    for prompt, completion, keep in rows:
        if prompt and ANSWER_MARKER in completion:
            task = prompt.removesuffix(PROMPT_SUFFIX)
            if relist:
                task = _relisted(task, rng)
            before = rng.choice(BEFORE).format(name=rng.choice(NAMES))
            prompt = before + task + rng.choice(AFTER) + PROMPT_SUFFIX
        out.append((prompt, completion, keep))
    return out


def families_of(correct: list[CotSample]) -> list[str]:
    """The family of each of a seed's correct ladder samples (every rung serves the same tasks
    in the same order, so it is each rung's sample's family too)."""
    out = []
    for sample in correct:
        readers = [f for f in REGISTRY if sample.final_answer in (f.answers(sample.prompt) or ())]
        out.append(readers[0].name if readers else "?")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arm", type=Arm, choices=list(Arm), required=True)
    ap.add_argument("--save", type=Path, help="write the trained model here")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    model, tok = load_base()
    if args.arm is not Arm.SHIPPED:
        recipe = replace(DEFAULT_PRETRAIN, steps=args.steps, seed=1)
        rows = pretrain_texts(recipe)[: max(args.steps, 100) * recipe.batch_size]
        if args.arm in (Arm.WIDENED, Arm.RELISTED):
            rows = widened(rows, seed=3, relist=args.arm is Arm.RELISTED)
        model = continue_pretraining(
            model, batches(recipe, encode_rows(tok, rows)), args.steps, args.lr
        )
    if args.save:
        save_base(args.save, model, tok, {"arm": args.arm.value, "steps": args.steps})
    trained = (
        "no further training" if args.arm is Arm.SHIPPED else f"{args.steps} steps, lr {args.lr}"
    )
    print(f"arm {args.arm.value} ({trained})")
    print(f"competence {competence(model, tok)}")
    print("seed " + " ".join(f"{q.value:>24}" for q in JUDGED) + "   (agree, dispute)")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        served = {q: seed_samples(seed, q) for q in JUDGED}
        cells = [judge(model, tok, served[q]) for q in JUDGED]
        print(
            f"{seed:>4} " + " ".join(f"{f'{a:.2f}, {d:.2f}':>24}" for a, d in cells),
            flush=True,
        )
        family = families_of(served[Quality.CORRECT])
        for name in REGISTRY.names():
            picks = [i for i, f in enumerate(family) if f == name]
            sub = [judge(model, tok, [served[q][i] for i in picks]) for q in JUDGED]
            print(
                f"{'':>4} {name:<12}({len(picks)}) "
                + " ".join(f"{f'{a:.2f}, {d:.2f}':>24}" for a, d in sub)
            )


if __name__ == "__main__":
    main()

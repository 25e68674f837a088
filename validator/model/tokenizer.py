"""The embedded base's tokenizer: a byte-level BPE trained on the base's own pretraining corpus.

Why BPE, not bytes (docs/SCORING.md, "The base"): the task families are copy-shaped (read a
list back, find its largest number, sort its words, add two numbers), and a small model learns
copying one token at a time. Over bytes a 2-digit operand is two tokens and a pool word five,
so every copy is a multi-token lookup by content; runs of up to 2,400 steps on bytes learned
the format of every family and copied nothing (greedy accuracy 0.047). Over this BPE a 2-digit
number or a pool word is one token, sequences are ~3x shorter (a 147-byte item is 41 tokens),
so the same CPU minutes buy ~3x more examples, and the base reaches partial competence.

It is a real Hugging Face tokenizer (``PreTrainedTokenizerFast`` over a ``tokenizers``
byte-level BPE), saved with ``save_pretrained`` beside the weights: the embedded base loads
through the same ``AutoTokenizer.from_pretrained`` path as any model a GPU node runs. Byte-level
means no unknown token: any text encodes (unseen words fall back to smaller pieces, down to
single bytes), which is what an outside teacher's phrasing meets.

Compatibility: special ids are fixed (pad 0, bos 1, eos 2); merges depend on the training
corpus and ``vocab_size``, both part of the pretraining recipe's key, so a change to either is
a new base.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order: the trainer assigns them first
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


def train_bpe(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE with ``vocab_size`` ids (specials included) learned from ``texts``.

    GPT-2's pre-tokenisation (a leading space stays with its word or number run), no prefix
    space added, byte-level decoding. Deterministic: the same texts give the same merges.
    """
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: nothing unknown
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS
    )
    ids = (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    if ids != (PAD_ID, BOS_ID, EOS_ID):  # the trainer's contract; checked, never assumed
        raise RuntimeError(f"special token ids {ids}, expected {(PAD_ID, BOS_ID, EOS_ID)}")
    return tokenizer

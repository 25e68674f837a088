"""A byte-level tokenizer that is not a Hugging Face one: 256 byte ids plus pad, bos and eos.

The validator's model code needs five things from a tokenizer (``recipe.TokenizerLike``):
``encode(text, add_special_tokens=False)``, ``decode(ids, skip_special_tokens=True)``,
``pad_token_id``, ``bos_token_id`` and ``eos_token_id``. The embedded base uses a Hugging Face
BPE; tests use this one where one byte per token makes positions easy to state (attribution's
copy task) and to check that nothing in ``validator.model`` assumes a Hugging Face class.
(It was the embedded base's tokenizer up to ``tiny-pretrain/3``.)
"""

from __future__ import annotations

from collections.abc import Sequence

PAD_ID = 0  # id 0 for padding: an all-zero tensor is an all-padding tensor, easy to eyeball
BOS_ID = 1  # begins every sequence, so the first real byte has something to condition on
EOS_ID = 2  # ends every completion: teaches generation where to stop
BYTE_OFFSET = 3  # bytes start after the three special ids
VOCAB_SIZE = 256 + BYTE_OFFSET  # every byte value plus the specials: no unknown token exists


class ByteTokenizer:
    """UTF-8 bytes as tokens, with the subset of the HF tokenizer interface the runner uses."""

    pad_token_id: int = PAD_ID
    bos_token_id: int = BOS_ID
    eos_token_id: int = EOS_ID
    vocab_size: int = VOCAB_SIZE
    # Left padding is what batched greedy generation needs; training pads on the right itself.
    padding_side: str = "left"

    def __len__(self) -> int:
        return VOCAB_SIZE

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; with ``add_special_tokens`` the bos id is prepended."""
        ids = [b + BYTE_OFFSET for b in text.encode("utf-8")]
        return [BOS_ID, *ids] if add_special_tokens else ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``; specials are dropped (or shown as ``<pad>``-style markers).

        Invalid UTF-8 (a model can emit half a multi-byte character) decodes with U+FFFD
        rather than raising: a generation is data to score, never a reason to crash a round.
        """
        out = bytearray()
        for raw in ids:
            i = int(raw)
            if i >= BYTE_OFFSET:
                out.append(i - BYTE_OFFSET)
            elif not skip_special_tokens:
                out.extend(_SPECIAL_TEXT[i].encode())
        return out.decode("utf-8", errors="replace")

    def batch_decode(
        self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = True
    ) -> list[str]:
        """``decode`` applied to each row."""
        return [self.decode(row, skip_special_tokens=skip_special_tokens) for row in batch]


_SPECIAL_TEXT = {PAD_ID: "<pad>", BOS_ID: "<s>", EOS_ID: "</s>"}

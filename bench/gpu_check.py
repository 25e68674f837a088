"""GPU path check: the validator's model runner on CUDA (bf16 by path, the tiny base float32).

Builds a ~40M-parameter Llama checkpoint with a byte-level BPE tokenizer on disk (nothing is
downloaded), loads it by path the way ``--model <path> --device cuda`` does, then times the
per-miner work: base evaluation once, LoRA training and evaluation for a few miners.

    python bench/gpu_check.py [--miners 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tasks.families import generate_many
from tasks.quality import Quality, degrade
from validator.evalsets.cot import draw_eval_set, general_texts
from validator.model.base import load_base
from validator.model.evaluate import evaluate
from validator.model.recipe import format_pair
from validator.model.train import lora_adapter


class _Sample:
    def __init__(self, prompt: str, chain_of_thought: str, final_answer: str):
        self.prompt, self.chain_of_thought, self.final_answer = (
            prompt,
            chain_of_thought,
            final_answer,
        )


def build_checkpoint(path: Path) -> None:
    corpus = [
        t.prompt + "\n" + t.chain_of_thought + "\nAnswer: " + t.final_answer
        for t in generate_many(7, 4000)
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus + list(general_texts()),
        trainers.BpeTrainer(vocab_size=2048, special_tokens=["<pad>", "<s>", "</s>"]),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.save_pretrained(path)
    config = LlamaConfig(
        vocab_size=2048,
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--miners", type=int, default=3)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device"
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        build_checkpoint(Path(tmp))
        for name in (tmp, "tiny"):
            t0 = time.perf_counter()
            model, tok = load_base(name, "cuda", cache_dir=Path(tmp) / "cache")
            params = sum(p.numel() for p in model.parameters())
            print(
                f"\nmodel {'hf-path' if name == tmp else name}: {params / 1e6:.1f}M params, dtype {next(model.parameters()).dtype}, load {time.perf_counter() - t0:.1f}s"
            )
            items = list(draw_eval_set("gpu", "r1", 64).items)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            base = evaluate(model, tok, items, general_texts())
            torch.cuda.synchronize()
            base_s = time.perf_counter() - t0
            print(f"base eval (once per round): {base_s:.2f}s  accuracy {base.accuracy():.3f}")
            for i, quality in zip(
                range(args.miners), [Quality.CORRECT, Quality.WRONG, Quality.EMPTY], strict=False
            ):
                rng = random.Random(i)
                triples = [degrade(t, quality, rng) for t in generate_many(100 + i, 64)]
                pairs = [format_pair(_Sample(*t)) for t in triples]
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                with lora_adapter(model, tok, pairs) as trained:
                    torch.cuda.synchronize()
                    train_s = time.perf_counter() - t0
                    t1 = time.perf_counter()
                    tuned = evaluate(trained.model, tok, items, general_texts())
                    torch.cuda.synchronize()
                    eval_s = time.perf_counter() - t1
                    finite = all(torch.isfinite(torch.tensor(trained.per_step_losses)))
                mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
                print(
                    f"miner {quality.value:<8} train {train_s:.2f}s eval {eval_s:.2f}s  answer-loss {mean(base.answer_loss):.3f} -> {mean(tuned.answer_loss):.3f}  losses finite {finite}"
                )
            del model
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

"""Write a safety eval set: ``python -m safety.generate --out PATH [options]``.

Without ``--endpoint`` the templates make it (deterministic; the shipped file is
``--seed 0 --harmful 1200 --benign 1200``). With ``--endpoint URL --model NAME`` an
OpenAI-compatible server paraphrases the template prompts (``safety/eval_set.py`` says what is
kept); ``--api-key-env VAR`` names the environment variable holding the key. An endpoint that
fails past its retries aborts with exit status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from common.atomic_file import write_text_atomic
from common.chat_client import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    ChatEndpoint,
    EndpointError,
    api_key_from_env,
)
from safety.eval_set import (
    DEFAULT_CONCURRENCY,
    DEFAULT_N,
    DEFAULT_SEED,
    build_paraphrased,
    build_templates,
    paraphraser,
)
from tasks.safety_prompts import NotEnoughPrompts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m safety.generate", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--harmful", type=int, default=DEFAULT_N, help="harmful prompts")
    parser.add_argument("--benign", type=int, default=DEFAULT_N, help="benign prompts")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generation seed")
    parser.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://vllm:8000/v1")
    parser.add_argument("--model", default="", help="model name at the endpoint")
    parser.add_argument("--api-key-env", help="environment variable holding the API key")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="per request")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help="per request")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="requests in flight"
    )
    args = parser.parse_args(argv)
    if args.endpoint and not args.model:
        parser.error("--endpoint needs --model")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Build the set, write it atomically, print a one-line summary. 2 on failure."""
    args = parse_args(argv)
    try:
        if args.endpoint:
            endpoint = ChatEndpoint(
                args.endpoint,
                args.model,
                api_key_from_env(args.api_key_env),
                timeout_s=args.timeout_s,
                retries=args.retries,
            )
            try:
                eval_set = build_paraphrased(
                    args.seed,
                    args.harmful,
                    args.benign,
                    paraphraser(endpoint, args.seed),
                    generator=args.model,
                    concurrency=args.concurrency,
                )
            finally:
                endpoint.close()
        else:
            eval_set = build_templates(args.seed, args.harmful, args.benign)
    except (EndpointError, NotEnoughPrompts) as exc:
        print(f"safety.generate: {exc}; nothing written", file=sys.stderr)
        return 2
    write_text_atomic(args.out, eval_set.to_json())
    print(
        f"wrote {args.out}: {len(eval_set.harmful)} harmful, {len(eval_set.benign)} benign, "
        f"generator={eval_set.generator}, paraphrased={eval_set.paraphrased}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

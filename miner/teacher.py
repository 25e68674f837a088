"""A teacher model behind an OpenAI-compatible endpoint (vLLM, hosted APIs) writes the CoT.

The miner draws prompts from the procedural task families, asks the teacher to reason step by
step, and keeps an answer only when the task's verifier accepts it (rejection sampling: a
teacher's wrong answers would cost the miner score). Requests go through the shared chat client
(``common.chat_client``), so transient failures (connection errors, timeouts, 429, 5xx) are
retried with backoff. Whatever the teacher cannot supply — no endpoint, an error that outlasts
the retries, a wrong answer — is filled from the generator, so a round is never empty.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from common.chat_client import DEFAULT_RETRIES, ChatEndpoint, EndpointError
from miner.sources import DataSourceError, GeneratorSource, Sample, _round_rng
from protocol.schemas import Competition, CotSample
from tasks.families import generate, verify

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Solve the problem. Think step by step in one short paragraph, then end with a line "
    "'Answer: <answer>' and nothing after it."
)

# The answer line the system prompt asks for; the last one wins if the model repeats it.
_ANSWER_RE = re.compile(r"answer\s*:\s*(.+)\s*$", re.IGNORECASE | re.MULTILINE)

# One completion of a short worked solution; a teacher slower than this is treated as down.
TEACHER_TIMEOUT_S = 30.0

# Short task solutions fit in a few hundred tokens; capping bounds cost on hosted APIs.
TEACHER_MAX_TOKENS = 256


def parse_teacher_reply(text: str) -> tuple[str, str] | None:
    """Split a reply into (chain_of_thought, final_answer); None without an answer line."""
    matches = list(_ANSWER_RE.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    cot = text[: last.start()].strip()
    answer = last.group(1).strip()
    return (cot, answer) if answer else None


class TeacherSource:
    """CoT from a teacher model, verified, with the generator as fallback."""

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: SecretStr | None,
        seed: str,
        client: httpx.Client | None = None,
        retries: int = DEFAULT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._seed = seed
        self._fallback = GeneratorSource(seed)
        self._client = client
        self._endpoint = (
            ChatEndpoint(
                base_url,
                model,
                api_key,
                timeout_s=TEACHER_TIMEOUT_S,
                retries=retries,
                client=client,
                sleep=sleep,
            )
            if base_url
            else None
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        if self._endpoint is not None:
            self._endpoint.close()
        elif self._client is not None:
            self._client.close()

    def competitions(self) -> tuple[Competition, ...]:
        """CoT only."""
        return (Competition.COT_SFT,)

    @staticmethod
    def _ask(endpoint: ChatEndpoint, prompt: str) -> str:
        return endpoint.complete(
            [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
            max_tokens=TEACHER_MAX_TOKENS,
            temperature=0.0,
        )

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """Verified teacher samples, topped up from the generator."""
        if competition != Competition.COT_SFT:
            raise DataSourceError("the teacher serves cot_sft only")
        endpoint = self._endpoint
        if endpoint is None:
            return self._fallback.samples(competition, count, round_id)
        rng: random.Random = _round_rng(self._seed, round_id)
        out: list[Sample] = []
        for _ in range(count):
            task = generate(rng)
            try:
                parsed = parse_teacher_reply(self._ask(endpoint, task.prompt))
            # EndpointError: down past the retries, a non-retryable status, a malformed reply;
            # httpx.HTTPError: what the client does not wrap (e.g. an undecodable body).
            except (EndpointError, httpx.HTTPError) as exc:
                log.warning("teacher failed (%s); falling back to the generator", exc)
                break
            if parsed is None or not verify(parsed[1], task.final_answer):
                continue
            out.append(
                CotSample(prompt=task.prompt, chain_of_thought=parsed[0], final_answer=parsed[1])
            )
        if len(out) < count:
            out.extend(self._fallback.samples(competition, count - len(out), round_id))
        return out

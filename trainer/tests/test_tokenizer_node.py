"""tokenizer.json from the trainer gives the TypeScript side (npm `tokenizers` 0.23, the same Rust
core) the ids and offsets the trainer used (Python `tokenizers` 0.22.2), truncation included."""

import json
import shutil
import subprocess

import pytest
from transformers import AutoTokenizer

from trainer.tests.support import ROOT, demo_config, demo_rows, train_in_process

NODE_TOKENIZERS = ROOT / "node_modules" / "tokenizers"

ENCODE = """
const { Tokenizer } = require(process.argv[1]);
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const tokenizer = Tokenizer.fromFile(process.argv[2]);
Promise.all(texts.map((t) => tokenizer.encode(t))).then((encodings) => {
  console.log(JSON.stringify(encodings.map((e) => ({ ids: e.getIds(), offsets: e.getOffsets() }))));
});
"""


@pytest.mark.skipif(
    shutil.which("node") is None or not NODE_TOKENIZERS.is_dir(),
    reason="needs node and the npm tokenizers package (npm ci)",
)
def test_npm_tokenizers_reads_tokenizer_json_like_the_trainer(tmp_path):
    assert train_in_process(demo_config(tmp_path, maxSteps=1, maxLength=16), tmp_path).code == 0
    out = tmp_path / "out"
    texts = [r["text"] for r in demo_rows("test")] + [
        "여자 😀 남자는 🇰🇷 간다",  # astral characters: offsets must count code points on both sides
        " ".join(["아버지와 어머니가"] * 20),  # longer than maxLength: tokenizer.json truncates at 16
    ]
    node = subprocess.run(
        ["node", "-e", ENCODE, str(NODE_TOKENIZERS), str(out / "tokenizer.json")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert node.returncode == 0, node.stderr
    from_node = json.loads(node.stdout)
    expected = AutoTokenizer.from_pretrained(out)(texts, truncation=True, max_length=16, return_offsets_mapping=True)
    assert [e["ids"] for e in from_node] == expected["input_ids"]
    assert [[list(o) for o in e["offsets"]] for e in from_node] == [
        [list(o) for o in offs] for offs in expected["offset_mapping"]
    ]
    assert len(from_node[-1]["ids"]) == 16

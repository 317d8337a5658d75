"""Proper nouns in Korean text, for fairline's ner-mask stage (its `morph` span source).

Reads JSON lines `{"text": "..."}` on stdin and writes one JSON line per input line, in order,
on stdout: `{"spans": [[start, end, "NNP"], ...]}`. Offsets are `[start, end)` in Unicode code
points of the input text (Python `str` indices), the unit of every span in fairline. The analyzer
is Kiwi (kiwipiepy) with the model that kiwipiepy_model bundles: nothing is downloaded.

Run it by hand from the repository root, with the trainer's venv:

    $ echo '{"text": "김철수는 서울에 갔다."}' | python -m trainer.morph
    {"spans": [[0, 3, "NNP"], [5, 7, "NNP"]]}

    $ python -m trainer.morph --tags NNP,SL < texts.jsonl > spans.jsonl

Choices (each with its reason):
- Morphemes of the chosen tags that touch (end == next start) form one span, typed by the first:
  Kiwi splits some compounds into adjacent proper nouns, and one entity should be one mask.
- A span with no letter or digit other than bare jamo is dropped: Kiwi tags laughter such as
  "ᄏᄏ" as NNP, and masking it would teach the model nothing about entities.
- Each line is answered and flushed before the next is read, so the stage can stream rows
  through one long-lived process; end of input ends the process.
- On Linux the process asks to be sent SIGTERM when its parent dies, so a killed worker never
  leaves an analyzer behind.

Exit status: 0 at end of input; 2 on bad arguments or a line that is not `{"text": str}`;
3 when kiwipiepy cannot be imported or its model cannot be loaded (retrying will not help).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from .lifeline import die_with_parent

EXIT_BAD_INPUT = 2
EXIT_NO_ANALYZER = 3

# Hangul jamo blocks: conjoining (U+1100-11FF, extended A/B) and compatibility (U+3130-318F).
_JAMO = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))


@dataclass(frozen=True)
class Config:
    tags: tuple[str, ...] = ("NNP",)  # Kiwi's proper-noun tag; SL (foreign words) is opt-in


def _is_jamo(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _JAMO)


def _has_content(text: str) -> bool:
    return any(ch.isalnum() and not _is_jamo(ch) for ch in text)


def proper_nouns(kiwi, text: str, tags: tuple[str, ...] = ("NNP",)) -> list[list]:
    """Spans `[start, end, tag]` of the morphemes of `tags` in `text`, touching ones merged."""
    spans: list[list] = []
    for token in kiwi.tokenize(text):
        if token.tag not in tags:
            continue
        start, end = token.start, token.start + token.len
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end, token.tag])
    return [s for s in spans if _has_content(text[s[0] : s[1]])]


def load_kiwi():
    from kiwipiepy import Kiwi

    return Kiwi()


def serve(kiwi, config: Config, stdin=sys.stdin, stdout=sys.stdout) -> int:
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, TypeError) as error:
            print(f'trainer.morph: input line {number} is not {{"text": str}}: {error}', file=sys.stderr)
            return EXIT_BAD_INPUT
        stdout.write(json.dumps({"spans": proper_nouns(kiwi, text, config.tags)}, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.morph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", default="NNP", help="comma-separated Kiwi POS tags to report (default NNP)")
    args = parser.parse_args(argv)
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    if not tags:
        parser.error("--tags names no tag")
    die_with_parent()
    try:
        kiwi = load_kiwi()
    except Exception as error:  # ImportError, a missing or corrupt model
        print(f"trainer.morph: cannot load kiwipiepy: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_NO_ANALYZER
    sys.stdin.reconfigure(encoding="utf-8")
    sys.stdout.reconfigure(encoding="utf-8")
    return serve(kiwi, Config(tags=tags))


if __name__ == "__main__":
    sys.exit(main())

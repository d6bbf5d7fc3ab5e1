"""Synthetic model builds: a catalog architecture with seeded random weights.

A synthetic build is what a machine without the real weights can still measure:
the same layers, shapes and operators as the published checkpoint, so latency and
memory reflect the real architecture, while the outputs are meaningless. The
weights, tokenizer and processor are written with `save_pretrained`, so loading
them goes through the same `from_pretrained` code as real weights from the Hugging
Face cache. Every build carries `vt_synthetic.json`, which makes the resolver
report its source as `synthetic`.

The tokenizers are built locally without any download:
- CLIP: a byte-level BPE vocabulary of the config's size laid out like OpenAI's
  (256 byte symbols, the same 256 with `</w>`, merges, then `<|startoftext|>` and
  `<|endoftext|>` as the two last ids, 49406 and 49407 at full size). The merges
  are generated, not learned, so words split differently than with the real one.
- BLIP: a BERT WordPiece vocabulary with [PAD]=0, [UNK]=100, [CLS]=101,
  [SEP]=102, [MASK]=103 at the real ids, then [DEC] (bos) and [ENC] appended as
  the two last ids, 30522 and 30523 at full size.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from vt_core import __version__, catalog

# Words that get whole-word tokens, so labels and captions tokenize into few pieces.
WORDS = (
    "a an the of on in at with and to is are there two three photo picture image diagram drawing "
    "cat dog car bird tree house person man woman sitting standing street table field sky water "
    "red green blue yellow white black orange purple gray circle square triangle stripes "
    "checkerboard pattern gradient color colorful landscape close up view noise rings shape"
).split()

CLIP_BOS = "<|startoftext|>"
CLIP_EOS = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """Return the byte-to-character table of byte-level BPE (GPT-2 and CLIP use the same one).

    Printable bytes map to themselves; the others map to code points from 256 up,
    so every byte is a visible character in vocab.json.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\xa1"), ord("\xac") + 1))
        + list(range(ord("\xae"), ord("\xff") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes)))


def clip_vocabulary(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return a byte-level BPE vocabulary of exactly `vocab_size` ids and its merges.

    Raises ValueError below 514 ids (512 byte symbols and 2 special tokens).
    """
    if vocab_size < 514:
        raise ValueError(f"CLIP vocab_size must be at least 514 for a byte-level vocabulary, got {vocab_size}")
    symbols = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
    for symbol in symbols:
        vocab[symbol + "</w>"] = len(vocab)
    merges: list[tuple[str, str]] = []
    limit = vocab_size - 2

    def add(left: str, right: str) -> None:
        token = left + right
        if len(vocab) < limit and token not in vocab:
            vocab[token] = len(vocab)
            merges.append((left, right))

    # Whole-word merges first (lowest rank), built left to right as BPE training would.
    for word in WORDS:
        prefix = word[0]
        for index, char in enumerate(word[1:], start=1):
            last = index == len(word) - 1
            add(prefix, char + "</w>" if last else char)
            prefix += char
    # Then every pair of byte symbols, until the vocabulary is full.
    for left in symbols:
        for right in symbols:
            if len(vocab) >= limit:
                break
            add(left, right)
            add(left, right + "</w>")
    vocab[CLIP_BOS] = len(vocab)
    vocab[CLIP_EOS] = len(vocab)
    if len(vocab) != vocab_size:
        raise ValueError(f"CLIP vocab_size {vocab_size} is larger than the generated vocabulary ({len(vocab)})")
    return vocab, merges


def bert_vocabulary(size: int) -> dict[str, int]:
    """Return a WordPiece vocabulary of exactly `size` ids with BERT's special tokens at their real ids."""
    if size < 400:
        raise ValueError(f"BERT vocabulary size must be at least 400, got {size}")
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    characters = [chr(code) for code in range(33, 127) if not chr(code).isupper()]
    candidates = characters + ["##" + char for char in characters] + list(WORDS)
    seen = set(tokens)
    for token in candidates:
        if token not in seen and len(tokens) < size:
            tokens.append(token)
            seen.add(token)
    # Fill with letter pairs, then triples, as word starts and ## continuations.
    letters = "abcdefghijklmnopqrstuvwxyz"
    pairs = [a + b for a in letters for b in letters]
    fillers = (piece for group in (pairs, [p + c for p in pairs for c in letters]) for piece in group)
    for piece in fillers:
        if len(tokens) >= size:
            break
        for token in (piece, "##" + piece):
            if token not in seen and len(tokens) < size:
                tokens.append(token)
                seen.add(token)
    return {token: index for index, token in enumerate(tokens)}


def build_clip_tokenizer(vocab_size: int, max_length: int):
    """Return a CLIPTokenizer whose ids fit `vocab_size` and that pads to `max_length`."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary(vocab_size)
    tokenizer = CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        bos_token=CLIP_BOS,
        eos_token=CLIP_EOS,
        pad_token=CLIP_EOS,
        unk_token=CLIP_EOS,
        model_max_length=max_length,
    )
    return tokenizer


def build_blip_tokenizer(vocab_size: int, max_length: int):
    """Return a BERT tokenizer with [DEC] as bos and [ENC] added, `vocab_size` ids in all."""
    from transformers import BertTokenizer

    tokenizer = BertTokenizer(
        vocab=bert_vocabulary(vocab_size - 2),
        do_lower_case=True,
        bos_token="[DEC]",
        extra_special_tokens=["[ENC]"],
        model_max_length=max_length,
    )
    expected = {"[DEC]": vocab_size - 2, "[ENC]": vocab_size - 1}
    actual = {token: tokenizer.convert_tokens_to_ids(token) for token in expected}
    if actual != expected:
        raise RuntimeError(f"BLIP tokenizer special ids are {actual}, expected {expected}")
    return tokenizer


def build_processor(family: str, config: dict[str, Any], processor_spec: dict[str, Any]):
    """Return the processor (image processor plus tokenizer) for a synthetic build of `config`.

    The image size follows the (possibly overridden) vision config; mean, std and
    resampling follow the catalog's processor settings.
    """
    image_size = config["vision_config"]["image_size"]
    text = config["text_config"]
    if family == "clip":
        from transformers import CLIPImageProcessorPil, CLIPProcessor

        image_processor = CLIPImageProcessorPil(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
            image_mean=processor_spec["image_mean"],
            image_std=processor_spec["image_std"],
            resample=processor_spec["resample"],
        )
        tokenizer = build_clip_tokenizer(text["vocab_size"], text["max_position_embeddings"])
        return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    if family == "blip":
        from transformers import BlipImageProcessorPil, BlipProcessor

        image_processor = BlipImageProcessorPil(
            size={"height": image_size, "width": image_size},
            image_mean=processor_spec["image_mean"],
            image_std=processor_spec["image_std"],
            resample=processor_spec["resample"],
        )
        tokenizer = build_blip_tokenizer(text["vocab_size"], processor_spec["text_max_length"])
        return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    raise ValueError(f"unknown model family {family!r}; known families: {', '.join(catalog.FAMILIES)}")


def build_model(family: str, config: dict[str, Any], seed: int):
    """Return the transformers model of `config` with weights drawn from torch's generator seeded with `seed`."""
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, CLIPConfig, CLIPModel

    classes = {"clip": (CLIPConfig, CLIPModel), "blip": (BlipConfig, BlipForConditionalGeneration)}
    config_class, model_class = classes[family]
    torch.manual_seed(seed)
    model = model_class(config_class.from_dict(config))
    return model.eval()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write_build(directory: Path, model_id: str, overrides: dict[str, Any] | None, label: str, seed: int) -> None:
    spec = catalog.get_spec(model_id)
    config = catalog.merged_config(model_id, overrides)
    model = build_model(spec.family, config, seed)
    model.save_pretrained(directory)
    build_processor(spec.family, config, spec.processor).save_pretrained(directory)
    marker = {
        "model_id": label,
        "architecture_of": model_id,
        "weights": f"random, torch.manual_seed({seed}); not trained, outputs are meaningless",
        "seed": seed,
        "config_overrides": overrides or {},
        "parameter_count": sum(parameter.numel() for parameter in model.parameters()),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "vt_tui_version": __version__,
        "torch_version": _version("torch"),
        "transformers_version": _version("transformers"),
    }
    (directory / catalog.SYNTHETIC_MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def build(
    model_id: str,
    target_dir: str | os.PathLike[str] | None = None,
    config_overrides: dict[str, Any] | None = None,
    *,
    label: str | None = None,
    seed: int = 0,
) -> Path:
    """Build the synthetic model of catalog id `model_id` into `target_dir` and return the directory.

    Without `target_dir` the build goes to its place under the synthetic cache. An
    existing build with the same id and overrides is reused. The build is written
    into a temporary sibling folder and renamed into place, so a crash leaves no
    half-written model and two concurrent builders end with one complete copy.
    Raises FileExistsError when `target_dir` holds something else.
    """
    catalog.get_spec(model_id)
    label = label or model_id
    target = Path(target_dir).expanduser().resolve() if target_dir else catalog.synthetic_dir_for(model_id)
    if target.exists():
        marker = catalog.read_marker(target)
        if marker and marker.get("model_id") == label and marker.get("config_overrides", {}) == (config_overrides or {}):
            return target
        raise FileExistsError(
            f"{target} already exists and is not a synthetic build of {label!r} with these overrides; "
            "remove it or choose another target directory"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _write_build(staging, model_id, config_overrides, label, seed)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process finished the same build first; keep its copy.
            if catalog.read_marker(target) is None:
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_built(model_id: str) -> Path:
    """Return the cached synthetic build of `model_id`, building it on first use."""
    return build(model_id)

"""`curate plan` and `curate train` on an export: TRL's SFTTrainer + peft LoRA (QLoRA on CUDA).

What curate adds to the libraries: masks for any chat template that keep tool calls and honour per-turn
weights (masks.py), shown before training (`plan --show-masks`); refusal when a mask is empty; the same
measures before and after training (evaluate.py) and `--compare` of two exports on one test split;
metrics.jsonl and an SVG loss curve; an overfitting warning; a manifest tying the adapter to the export.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import orjson

from curate.errors import MissingDependency, UsageError
from curate.secrets import redact

from .config import TrainConfig
from .curves import loss_svg, overfitting
from .data import SPLITS, Conversation, conversation_of, load_export
from .masks import Encoded, RenderError, encode, segments
from .plan import arch_of, plan


def _libs():
    import logging
    import warnings

    # Messages a user cannot act on: bitsandbytes (imported by peft) asks for an optional CPU kernel package
    # on CPUs with AVX512-BF16; peft reads an attribute transformers renamed; transformers' own progress bars
    # (curate draws one per run) and its notes on file timestamps.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing. is deprecated", category=FutureWarning)
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers
        import trl  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(exc.name or "transformers", "train", "Training") from exc
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:  # TRL prepares the rows with datasets.map, which draws a bar per pass
        import datasets

        datasets.utils.logging.disable_progress_bar()
    except ImportError:
        pass


def _tokenizer(model: str, conversations: list[Conversation], out_dir: Path | None, seed: int):
    """(the tiny model or None, the tokenizer or None, what counted the tokens). A tokenizer without a chat
    template is refused here, before any model weights load."""
    if model == "tiny":
        from .tiny import build

        m, tok = build(conversations, out_dir, seed)
        return m, tok, "tiny BPE tokenizer trained on the export"
    if Path(model).is_dir() or out_dir is not None:  # training needs the real tokenizer; a plan can estimate
        from transformers import AutoTokenizer

        _model_dir_or_id(model)
        try:
            tok = AutoTokenizer.from_pretrained(model)
        except (OSError, ValueError) as exc:  # no tokenizer files, or files it cannot read
            raise UsageError(f"cannot load the tokenizer of {model!r}: {str(exc).splitlines()[0]}. Pass a model "
                             "directory (config.json, weights and tokenizer files), or {model} tiny for a smoke "
                             "run", params=("model",)) from None
        if not tok.chat_template:
            raise UsageError(f"{model}: the tokenizer has no chat template, so conversations cannot be rendered "
                             "as the model will see them; use an instruct/chat model, or set chat_template in its "
                             "tokenizer_config.json")
        return None, tok, f"{model} tokenizer with its chat template"
    return None, None, "all-MiniLM-L6-v2 WordPiece (offline estimate: no tokenizer for a preset)"


def _estimated_lengths(conversations: list[Conversation]) -> list[int]:
    """Token counts without the model's tokenizer (a preset): MiniLM's WordPiece over the text."""
    from curate.checks.tokenizer import load

    _, counter = load(None)

    def text(c: Conversation) -> str:
        calls = [json.dumps(m.get("tool_calls")) for m in c.messages if m.get("tool_calls")]
        return "\n".join([m.get("content") or "" for m in c.messages] + calls + [json.dumps(c.tools or "")])

    # About 4 template tokens per turn on top of the text (role header and end-of-turn).
    return [n + 4 * len(c.messages) for n, c in zip(counter.many([text(c) for c in conversations]), conversations)]


def make_plan(export_dir: str, model: str, cfg: TrainConfig, show_masks: int = 0,
              mask_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    _, splits = load_export(export_dir)
    if not splits["train"]:
        raise UsageError(f"{export_dir}: the train split is empty")
    hf_config = None
    if model != "tiny":
        _model_dir_or_id(model)
    if model == "tiny":
        _libs()
    elif Path(model).is_dir():
        _libs()
        from transformers import AutoConfig

        hf_config = AutoConfig.from_pretrained(model)
    m, tok, note = _tokenizer(model, splits["train"], None, cfg.seed)
    arch = arch_of(model, m.config if m is not None else hf_config)
    # With the real tokenizer, the lengths are those of the renderings the masks are computed on (one pass).
    enc = encode(tok, splits["train"], cfg.max_length) if tok is not None else None
    lengths = enc.lengths if enc is not None else _estimated_lengths(splits["train"])
    result = plan(arch, cfg, lengths, len(splits["val"]), note, len(splits["test"]))
    if enc is not None:
        result["masking"] = enc.summary()
    if show_masks or mask_ids:
        if tok is None:
            raise UsageError(f"{{show_masks}} needs the model's tokenizer and chat template; {model!r} is a preset, "
                             "which has neither offline: pass a local model directory (or tiny)",
                             params=("show_masks",))
        result["masks"] = [_mask_entry(tok, conv, split, cfg.max_length)
                           for split, conv in _mask_choice(splits, show_masks, mask_ids)]
    return result


def _mask_choice(splits: dict[str, list[Conversation]], n: int, ids: tuple[str, ...]):
    """The conversations asked for by id (a unique prefix will do), then the first n of train, the first
    with a tool call among them where there is one (the kind of turn a template most often gets wrong)."""
    everything = [(s, c) for s in SPLITS for c in splits[s]]
    chosen = []
    for want in ids:
        found = [(s, c) for s, c in everything if c.id.startswith(want)]
        if not found:
            raise UsageError(f"{{mask_ids}} {want}: no example of the export has an id starting with {want!r}; "
                             "ids are in manifest.json (splits), in {show_masks} output and in curate show",
                             params=("mask_ids", "show_masks"))
        if len(found) > 1:
            raise UsageError(f"{{mask_ids}} {want}: {len(found)} ids start with {want!r}; give more characters",
                             params=("mask_ids",))
        chosen.append(found[0])
    train = [("train", c) for c in splits["train"]]
    tool = next((p for p in train if p[1].has_tool_calls), None)
    picked = ([tool] if tool and n else []) + [p for p in train if p is not tool]
    return chosen + picked[:n]


def _mask_entry(tok, conv: Conversation, split: str, max_length: int) -> dict[str, Any]:
    from .masks import mask

    try:
        masked = mask(tok, conv)
    except RenderError as exc:
        return {"id": conv.id, "split": split, "error": f"the chat template refused it: {exc}", "segments": []}
    parts, tokens = segments(tok, masked, max_length)
    # Shown outside the review screen, so secrets are masked (segment by segment: spans keep their flags).
    return {"id": conv.id, "split": split, "method": masked.method, "tool_calls": conv.has_tool_calls,
            "tokens": tokens, "truncated": tokens > max_length, "max_length": max_length,
            "segments": [{"text": redact(p["text"]), "trained": p["trained"]} for p in parts]}


def _mix(spec: str, n_train: int, seed: int) -> tuple[list[Conversation], dict[str, Any]]:
    """FILE:RATIO -> conversations from FILE making up RATIO of the blended training set."""
    import random

    from curate.readers import open_input

    path, sep, ratio_text = spec.rpartition(":")
    try:
        ratio = float(ratio_text)
    except ValueError:
        ratio = -1.0
    if not sep or not path or not 0 < ratio < 1:
        raise UsageError(f"{{mix}} {spec!r}: give FILE:RATIO with a ratio between 0 and 1, e.g. general.jsonl:0.15",
                         params=("mix",))
    pool, bad = [], 0
    for row in open_input(path).rows():
        try:
            pool.append(conversation_of(row.value))
        except Exception:  # a bad row of the general set is counted, not fatal
            bad += 1
    want = round(ratio / (1 - ratio) * n_train)
    chosen = random.Random(seed).sample(pool, min(want, len(pool)))
    return chosen, {"file": path, "ratio": ratio, "wanted": want, "available": len(pool), "unreadable_rows": bad,
                    "added": len(chosen)}


def _measure(trainer, tok, test, cases) -> dict[str, Any]:
    """Test loss and generation metrics of the model as it is now."""
    from .evaluate import generation
    from .trainer import dataset

    out: dict[str, Any] = {}
    if test.input_ids:
        # A dataset given to evaluate() is not prepared by TRL: it carries its labels itself.
        result = trainer.evaluate(dataset(test, labels=True), metric_key_prefix="test")
        out["test_loss"] = round(result["test_loss"], 4)
        out["test_perplexity"] = round(math.exp(min(result["test_loss"], 50)), 3)
    if cases:
        out["generation"] = generation(trainer.model, tok, cases)
    return out


def _checks(cfg: TrainConfig, cuda: bool, merge: bool) -> None:
    if merge and cfg.method == "qlora":
        raise UsageError("{merge} with qlora would merge into 4-bit weights; merge the adapter into the "
                         "full-precision base instead (load it, PeftModel.from_pretrained, merge_and_unload)",
                         params={"merge": "merge=True"})
    if cfg.method == "qlora" and not cuda:
        raise UsageError("QLoRA loads the base model in 4-bit with bitsandbytes, which needs a CUDA GPU; this "
                         "machine has none. Use {method} lora here, or run on a GPU machine", params=("method",))
    if cuda:
        from .trainer import refuse_data_parallel

        refuse_data_parallel(cfg)


def _fingerprint(conv: Conversation) -> str:
    return hashlib.blake2b(orjson.dumps([conv.messages, conv.tools], option=orjson.OPT_SORT_KEYS),
                           digest_size=16).hexdigest()


def _model_dir_or_id(model: str) -> None:
    """A path that is not a model directory is said to be one, before transformers reads it as a hub id."""
    path = Path(model)
    looks_like_path = model.startswith((".", "/", "~")) or path.exists()
    if looks_like_path and not path.is_dir():
        raise UsageError(f"{{model}} {model}: no such directory; pass a model directory, a hub id, or tiny",
                         params=("model",))
    if path.is_dir() and not (path / "config.json").is_file():
        raise UsageError(f"{{model}} {model}: not a model directory (no config.json); a model directory holds "
                         "config.json, the weights and the tokenizer files, as save_pretrained writes them",
                         params=("model",))


def _output(output: str, force: bool) -> Path:
    """The adapter's directory: new, empty, or (with --force) a previous run's, cleared first, so that no
    file of an earlier run (a merged model, a checkpoint) is left beside the new one."""
    import shutil

    out = Path(output)
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        if not (out / "training_manifest.json").is_file():
            raise UsageError(f"{out} exists and is not a curate adapter directory; choose another {{output}}",
                             params=("output",))
        if not force:
            raise UsageError(f"{out} holds an earlier training run; {{force}} replaces it, or choose another "
                             "{output}", params={"force": "force=True", "output": "output"})
        shutil.rmtree(out)
    return out


def default_output(export_dir: str, model: str) -> str:
    """Where an adapter goes when no output is named: beside the export, named after the model."""
    return str(Path(export_dir).resolve().parent / f"adapter-{Path(model).name}")


def train(export_dir: str, model: str, cfg: TrainConfig, output: str, quiet: bool = False, mix: str | None = None,
          merge: bool = False, test_from: list[Conversation] | None = None, force: bool = False) -> dict[str, Any]:
    """Train on the export; `test_from` replaces its test split (--compare evaluates both runs on one), and
    its conversations are taken out of training, so a raw export cannot be scored on what it trained on."""
    _libs()
    import torch

    from .trainer import Log, precision, sft_trainer

    manifest, splits = load_export(export_dir)
    held_out = _hold_out(splits, test_from)
    if not splits["train"]:
        raise UsageError(f"{export_dir}: the train split is empty")
    cuda = torch.cuda.is_available()
    _checks(cfg, cuda, merge)
    mixed = _blend(splits, mix, cfg.seed)
    torch.manual_seed(cfg.seed)
    dtype = precision(cfg, cuda)
    out = _output(output, force)  # after every check that needs no model: a refused run leaves nothing behind
    base, tok = _base_and_tokenizer(model, splits["train"], out, cfg, cuda, dtype)
    enc = _encoded(tok, splits, cfg.max_length)
    model_ = _adapter(base, model, cfg, out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "metrics.jsonl", quiet)
    trainer = sft_trainer(model_, tok, cfg, enc, out, cuda, dtype, log)
    final = _fit_and_measure(trainer, tok, cfg, enc, splits["test"])
    _save(model_, tok, out, merge)
    loss_svg(log.rows, out / "loss_curve.svg")
    warning = overfitting(log.rows)
    record = _record(export_dir, manifest, model, cfg, out, splits, enc, cuda, dtype, final, warning, mixed, merge)
    _write_manifest(record, out, held_out, bool(splits["test"]))
    if not os.environ.get("CURATE_KEEP_CHECKPOINTS"):
        _drop_checkpoints(out / "checkpoints")
    return record


def _hold_out(splits: dict[str, list[Conversation]], test_from: list[Conversation] | None) -> int:
    """With `test_from`: it becomes the test split and its conversations leave train. How many left."""
    if test_from is None:
        return 0
    seen = {_fingerprint(c) for c in test_from}
    kept = [c for c in splits["train"] if _fingerprint(c) not in seen]
    held_out, splits["train"], splits["test"] = len(splits["train"]) - len(kept), kept, test_from
    return held_out


def _blend(splits: dict[str, list[Conversation]], mix: str | None, seed: int) -> dict[str, Any] | None:
    """--mix: the general set's conversations added to train; what was added (None without --mix)."""
    if not mix:
        return None
    extra, mixed = _mix(mix, len(splits["train"]), seed)
    splits["train"] = splits["train"] + extra
    return mixed


def _base_and_tokenizer(model: str, train_split: list[Conversation], out: Path, cfg: TrainConfig, cuda: bool,
                        dtype: str):
    """The base model and its tokenizer, with a pad token."""
    from .trainer import load_base

    base, tok, _ = _tokenizer(model, train_split, out, cfg.seed)
    if base is None or cfg.method == "qlora":  # tiny + qlora: the saved tiny base, loaded in 4-bit
        base = load_base(str(out / "base") if model == "tiny" else model, cfg, cuda, dtype)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return base, tok


def _encoded(tok, splits: dict[str, list[Conversation]], max_length: int) -> dict[str, Encoded]:
    """Every split rendered, tokenised and masked; refused when no training example has a token to learn."""
    enc = {s: encode(tok, splits[s], max_length) for s in SPLITS}
    if not enc["train"].input_ids:
        raise UsageError("every training example has an empty loss mask (no assistant tokens after the template "
                         "and truncation): nothing would be learned; check the chat template and max_length "
                         "(curate plan --show-masks 3 shows what is trained)")
    return enc


def _adapter(base, model: str, cfg: TrainConfig, out: Path) -> Any:
    """The base wrapped in LoRA (Any: PeftModel forwards attributes to the base dynamically)."""
    from .trainer import with_lora

    model_: Any = with_lora(base, cfg)
    if model == "tiny":  # so the adapter reloads by itself (AutoPeftModelForCausalLM reads this)
        model_.peft_config["default"].base_model_name_or_path = str((out / "base").resolve())
    return model_


def _fit_and_measure(trainer, tok, cfg: TrainConfig, enc: dict[str, Encoded],
                     test: list[Conversation]) -> dict[str, Any]:
    """The test measures before training, the training, and the measures after: the run's metrics."""
    from .evaluate import prompts

    cases = prompts(test, cfg.eval_samples)
    before = _measure(trainer, tok, enc["test"], cases)
    final = _fit(trainer, cfg, has_val=bool(enc["val"].input_ids))
    final.update(_measure(trainer, tok, enc["test"], cases))
    final["before"] = before
    return final


def _fit(trainer, cfg: TrainConfig, has_val: bool) -> dict[str, Any]:
    """Train (stopping early on the validation loss, where there is a val split); the training's metrics."""
    from transformers import EarlyStoppingCallback

    if has_val:
        trainer.add_callback(EarlyStoppingCallback(cfg.early_stopping_patience))
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    final: dict[str, Any] = {"train_loss": round(result.training_loss, 4), "steps": result.global_step,
                             "seconds": round(seconds, 2),
                             "stopped_early": bool(cfg.max_steps <= 0 and has_val and
                                                   trainer.state.epoch < cfg.epochs - 1e-6)}
    if has_val and trainer.state.best_metric is not None:  # None when training ended before the first eval
        final["best_eval_loss"] = round(trainer.state.best_metric, 4)
    trainer.remove_callback(EarlyStoppingCallback)  # it only knows eval_loss, and would warn about test_loss
    return final


def _write_manifest(record: dict[str, Any], out: Path, held_out: int, has_test: bool) -> None:
    """training_manifest.json, the record completed with what only `train` knows."""
    record["data"]["held_out_of_train"] = held_out
    record["output"] = str(out.resolve())
    if not has_test:
        record["warnings"].append("no test split: nothing measured the model before and after training (export "
                                  "with --split 80/10/10)")
    (out / "training_manifest.json").write_text(json.dumps(record, indent=2) + "\n")


def _save(model_, tok, out: Path, merge: bool) -> None:
    model_.save_pretrained(str(out))
    tok.save_pretrained(out)
    if merge:
        merged = model_.merge_and_unload()
        merged.save_pretrained(out / "merged")
        tok.save_pretrained(out / "merged")


def _record(export_dir, manifest, model, cfg, out, splits, enc, cuda, dtype, final, warning, mixed, merge) -> dict:
    import peft
    import torch
    import transformers
    import trl

    import curate

    export_manifest = Path(export_dir) / "manifest.json"
    return {
        "export": str(Path(export_dir).resolve()),
        "export_manifest_sha256": hashlib.sha256(export_manifest.read_bytes()).hexdigest(),
        "export_fingerprint": manifest.get("workspace_fingerprint"), "model": model,
        "base_model_dir": str(out / "base") if model == "tiny" else model, "config": cfg.to_dict(),
        "targets": cfg.peft_targets,
        "data": {s: {**enc[s].summary(), "examples": len(splits[s])} for s in SPLITS},
        "versions": {"curate": curate.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": peft.__version__, "trl": trl.__version__},
        "device": "cuda" if cuda else "cpu", "precision": dtype, "bf16": dtype == "bf16", "metrics": final,
        "warnings": [warning] if warning else [], "mix": mixed, "merged": str(out / "merged") if merge else None,
    }


def compare(export_a: str, export_b: str, model: str, cfg: TrainConfig, output: str,
            quiet: bool = False, force: bool = False) -> dict[str, Any]:
    """The same recipe trained on two exports (say curated A and raw B), both measured on A's test split."""
    _, a_splits = load_export(export_a)
    if not a_splits["test"]:
        raise UsageError(f"{export_a}: {{export_b}} measures both runs on this export's test split, and it is "
                         "empty (export with --split 80/10/10)", params={"export_b": "compare"})
    a = train(export_a, model, cfg, str(Path(output) / "a"), quiet, force=force)
    # tiny trains its tokenizer on the export: B gets A's model and tokenizer, so both start the same
    b_model = str(Path(output) / "a" / "base") if model == "tiny" else model
    b = train(export_b, b_model, cfg, str(Path(output) / "b"), quiet, test_from=a_splits["test"], force=force)
    result = {"a": a, "b": b, "test_split_of": str(Path(export_a).resolve()),
              "table": [_row(name, r) for name, r in (("a", a), ("b", b))]}
    (Path(output) / "comparison.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _row(name: str, record: dict) -> dict[str, Any]:
    m = record["metrics"]
    gen, before = m.get("generation") or {}, m.get("before") or {}
    return {"run": name, "export": record["export"], "train_examples": record["data"]["train"]["trained"],
            "held_out_of_train": record["data"].get("held_out_of_train", 0),
            "test_loss_before": before.get("test_loss"), "test_loss": m.get("test_loss"),
            "rouge_l_before": (before.get("generation") or {}).get("rouge_l"), "rouge_l": gen.get("rouge_l"),
            "similarity": gen.get("similarity"), "steps": m["steps"]}


def _drop_checkpoints(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)

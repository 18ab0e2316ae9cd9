#!/usr/bin/env python3
"""Golden chat-template renders for pagoda's chat/ layer.

Renders every chat template found under shared/tokenizers with every conversation in
tests/golden/chat/conversations.json, through transformers' own render_jinja_template
(the function apply_chat_template calls), after the same input normalisation that
apply_chat_template does (keys whose value is None dropped, special tokens merged into the
template kwargs). strftime_now is pinned to a fixed date so that renders are reproducible.

Usage: /work/venvs/chat/bin/python tools/golden/chat/generate.py [--shared DIR]
Writes tests/golden/chat/templates.json (the index) and tests/golden/chat/renders/<id>.json.
"""
import argparse
import datetime as _dt
import glob
import json
import os
import re

import jinja2
import transformers

sys_path_dir = os.path.dirname(os.path.abspath(__file__))
import sys

sys.path.insert(0, sys_path_dir)
from transformers.utils import chat_template_utils as ctu

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXED_NOW = _dt.datetime(2025, 3, 14, 9, 26, 53)


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


# strftime_now inside transformers reads `datetime.now()` from the module's globals.
ctu.datetime = _FixedDatetime

SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
# Templates that are not from a model folder get these tokens.
GENERIC_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


def token_str(v):
    if isinstance(v, dict):
        return v.get("content")
    return v


def special_tokens_of(config_path):
    if not os.path.exists(config_path):
        return dict(GENERIC_TOKENS)
    cfg = json.load(open(config_path, encoding="utf-8"))
    out = {}
    for k in SPECIAL_TOKEN_KEYS:
        v = token_str(cfg.get(k))
        if v is not None:
            out[k] = str(v)
    return out


def slug(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")


def collect_templates(shared):
    """Every chat template under shared/tokenizers, with where it came from."""
    root = os.path.join(shared, "tokenizers")
    out = []
    for family in sorted(os.listdir(root)):
        fdir = os.path.join(root, family)
        if family.startswith("_") or not os.path.isdir(fdir):
            continue
        tokens = special_tokens_of(os.path.join(fdir, "tokenizer_config.json"))
        for cfg_path in sorted(glob.glob(os.path.join(fdir, "tokenizer_config*.json"))):
            cfg = json.load(open(cfg_path, encoding="utf-8"))
            ct = cfg.get("chat_template")
            rel = os.path.relpath(cfg_path, shared)
            base = family + "." + os.path.basename(cfg_path)[: -len(".json")]
            if isinstance(ct, str):
                out.append(dict(id=base, file=rel, kind="tokenizer_config", name="", template=ct,
                                tokens=special_tokens_of(cfg_path)))
            elif isinstance(ct, list):
                for entry in ct:
                    out.append(dict(id=base + "." + slug(entry["name"]), file=rel, kind="tokenizer_config",
                                    name=entry["name"], template=entry["template"], tokens=special_tokens_of(cfg_path)))
        ctj = os.path.join(fdir, "chat_template.json")
        if os.path.exists(ctj):
            ct = json.load(open(ctj, encoding="utf-8"))["chat_template"]
            out.append(dict(id=family + ".chat_template_json", file=os.path.relpath(ctj, shared),
                            kind="chat_template_json", name="", template=ct, tokens=tokens))
        for jp in sorted(glob.glob(os.path.join(fdir, "*.jinja"))):
            out.append(dict(id=family + "." + slug(os.path.basename(jp)[: -len(".jinja")]),
                            file=os.path.relpath(jp, shared), kind="jinja", name="",
                            template=open(jp, encoding="utf-8").read(), tokens=tokens))
    for jp in sorted(glob.glob(os.path.join(root, "_chat_template_refs", "llama.cpp", "*.jinja"))):
        out.append(dict(id="llama.cpp." + slug(os.path.basename(jp)[: -len(".jinja")]),
                        file=os.path.relpath(jp, shared), kind="jinja", name="",
                        template=open(jp, encoding="utf-8").read(), tokens=dict(GENERIC_TOKENS)))
    idx_path = os.path.join(root, "_chat_template_refs", "ollama-template-index.json")
    for i, entry in enumerate(json.load(open(idx_path, encoding="utf-8"))):
        out.append(dict(id="ollama.%02d.%s" % (i, slug(entry["name"])), file=os.path.relpath(idx_path, shared),
                        kind="ollama_index", name=str(i), template=entry["template"], tokens=dict(GENERIC_TOKENS)))
    return out


def render_case(template, tokens, conv, tools_sets, add_generation_prompt, continue_final_message):
    messages = [{k: v for k, v in m.items() if v is not None} for m in conv["messages"]]
    tools = conv.get("tools")
    tools = tools_sets[tools] if isinstance(tools, str) else tools
    kwargs = {**tokens, **conv.get("kwargs", {})}
    try:
        rendered, _ = ctu.render_jinja_template(
            conversations=[messages], tools=tools, documents=conv.get("documents"), chat_template=template,
            continue_final_message=continue_final_message, add_generation_prompt=add_generation_prompt, **kwargs)
        return {"output": rendered[0]}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": "syntax", "message": str(e)}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception() raises a bare TemplateError; UndefinedError, SecurityError... are subclasses.
        kind = "raise_exception" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
        return {"error": kind, "message": str(e)}
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as e:
        return {"error": type(e).__name__, "message": str(e)}


def render_jinja_cases():
    """tests/golden/chat/jinja_cases.json: one small template per feature."""
    import jinja_cases

    out = []
    for name, template in jinja_cases.CASES.items():
        case = {"name": name, "template": template}
        try:
            compiled = ctu._compile_jinja_template(template)
            case["output"] = compiled.render(**jinja_cases.CTX)
        except jinja2.exceptions.TemplateSyntaxError as e:
            case.update(error="syntax", message=e.message or str(e), line=e.lineno)
        except jinja2.exceptions.TemplateError as e:
            kind = "raise_exception" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
            case.update(error=kind, message=str(e))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as e:
            case.update(error=type(e).__name__, message=str(e))
        out.append(case)
    with open(os.path.join(REPO, "tests/golden/chat/jinja_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/golden/chat/generate.py (cases from jinja_cases.py)",
                   "context": jinja_cases.CTX, "fixed_now": FIXED_NOW.isoformat(), "cases": out},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("%d jinja feature cases" % len(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    args = ap.parse_args()
    convs = json.load(open(os.path.join(REPO, "tests/golden/chat/conversations.json"), encoding="utf-8"))
    out_dir = os.path.join(REPO, "tests/golden/chat/renders")
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "*.json")):
        os.remove(old)
    index = []
    totals = {"cases": 0, "errors": 0}
    for t in collect_templates(args.shared):
        cases = []
        for conv in convs["conversations"]:
            variants = [(False, True)] if conv.get("continue_final_message") else [(False, False), (True, False)]
            for agp, cfm in variants:
                res = render_case(t["template"], t["tokens"], conv, convs["tools"], agp, cfm)
                case = {"conversation": conv["name"], "add_generation_prompt": agp, "continue_final_message": cfm}
                case.update(res)
                cases.append(case)
                totals["cases"] += 1
                totals["errors"] += "error" in res
        golden = {"id": t["id"], "file": t["file"], "kind": t["kind"], "name": t["name"],
                  "template_chars": len(t["template"]), "special_tokens": t["tokens"], "cases": cases}
        with open(os.path.join(out_dir, t["id"] + ".json"), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, indent=1)
            f.write("\n")
        index.append(t["id"])
    with open(os.path.join(REPO, "tests/golden/chat/templates.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/golden/chat/generate.py", "jinja2": jinja2.__version__,
                   "transformers": transformers.__version__, "fixed_now": FIXED_NOW.isoformat(),
                   "templates": index}, f, indent=1)
        f.write("\n")
    print("%d templates, %d cases, %d errors" % (len(index), totals["cases"], totals["errors"]))
    render_jinja_cases()


if __name__ == "__main__":
    main()

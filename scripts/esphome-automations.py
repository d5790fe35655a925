"""Writes every action and condition ESPHome knows, for src/components/data/esphome-automations.tsv.

Run with the reference venv's Python: `$(scripts/esphome-venv)/bin/python scripts/esphome-automations.py`.
It imports every component (and platform) module so their actions register, then records per
action or condition: what a plain value means (`use:KEY` an id reference, `value` something
else, `-` not allowed) and which keys hold id references (`cv.use_id`) or declare ids.
"""
import importlib, pkgutil, sys, json, inspect
import voluptuous as vol
import esphome.components as comps
from esphome import automation
from esphome.core import CORE, ID
import esphome.config_validation as cv
from pathlib import Path
CORE.config_path = Path("/tmp/x.yaml")
for n in [m.name for m in pkgutil.iter_modules(comps.__path__)]:
    try:
        pkg = importlib.import_module(f"esphome.components.{n}")
        for m in pkgutil.iter_modules(pkg.__path__):
            try: importlib.import_module(f"esphome.components.{n}.{m.name}")
            except Exception: pass
    except Exception: pass

def classify(v, seen):
    q = getattr(v, "__qualname__", "") or ""
    if "use_id" in q: return "use"
    if "declare_id" in q: return "declare"
    # templatable wraps
    for sub in children(v, seen):
        c = classify(sub, seen)
        if c: return c
    return None

def children(v, seen):
    if id(v) in seen: return []
    seen.add(id(v))
    out=[]
    if isinstance(v, vol.Schema):
        out.append(v.schema)
    if isinstance(v, (vol.All, vol.Any)):
        out.extend(v.validators)
    if isinstance(v,(list,tuple)): out.extend(v)
    if callable(v) and getattr(v, "__closure__", None):
        for c in v.__closure__:
            try: out.append(c.cell_contents)
            except ValueError: pass
    return out

def keys_of(v, seen, out, depth=0):
    if depth>8 or id(v) in seen: return
    seen.add(id(v))
    if isinstance(v, vol.Schema) and isinstance(v.schema, dict):
        for k, val in v.schema.items():
            ks = str(getattr(k, "schema", k))
            c = classify(val, set())
            if c: out.setdefault(ks, set()).add(c)
        return
    if isinstance(v, dict):
        for k, val in v.items():
            ks = str(getattr(k, "schema", k))
            c = classify(val, set())
            if c: out.setdefault(ks, set()).add(c)
        return
    for c in children(v, set()):
        keys_of(c, seen, out, depth+1)

def shorthand(entry):
    try:
        r = entry.schema("zz_probe")
    except Exception:
        return "-"
    if isinstance(r, dict):
        for k, v in r.items():
            if isinstance(v, ID) and not v.is_declaration and str(v.id)=="zz_probe": return "use:"+k
        for k, v in r.items():
            if str(v)=="zz_probe": return "value:"+k
    return "value"

rows=[]
for reg,kind in ((automation.ACTION_REGISTRY,"action"),(automation.CONDITION_REGISTRY,"condition")):
    for name, entry in sorted(reg.items()):
        out={}
        keys_of(entry.schema, set(), out)
        uses=",".join(sorted(k for k,v in out.items() if "use" in v))
        decl=",".join(sorted(k for k,v in out.items() if "declare" in v))
        rows.append("\t".join([kind,name,shorthand(entry),uses or "-",decl or "-"]))
print("# Every action and condition of ESPHome 2026.10.0 (scripts/esphome-automations.py).")
print("# kind\tname\tplain value\tkeys that refer to ids\tkeys that declare ids")
print("\n".join(rows))

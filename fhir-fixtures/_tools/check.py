#!/usr/bin/env python3
"""Independent reference evaluator of shared/clinical-rules.md (+ the fixture-brief decisions).

Reads each *.request.json, computes the outcome in the *.expected.json format and diffs it against the
hand-written expected file. Written separately from generate.py's expectations so that a mistake in either
shows up. Also checks the request shape (all seven prefetch keys, no empty JSON values, unique hookInstance).
"""
import datetime as dt
import glob
import json
import os
import re
import sys
from calendar import monthrange

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
USF = "https://fhir.distal-dvt-cds.org/CodeSystem/ultrasound-finding"
DAY = dt.timedelta(days=1)

DISTAL_VEINS = {"264481007": "muscular", "397427005": "muscular", "4258007": "axial", "71758008": "axial",
                "26703007": "axial"}
PROXIMAL_VEINS = {"56849005", "83419000", "397364003", "397363009", "23438002", "46027005", "63507001", "40300007",
                  "64131007"}
LATERALITY = {"24028007": "right", "7771000": "left", "51440002": "both"}
ING = {"1364430": "apixaban", "1114195": "rivaroxaban", "1599538": "edoxaban", "1546356": "dabigatran",
       "11289": "warfarin", "67108": "enoxaparin", "67109": "dalteparin", "69646": "tinzaparin", "5224": "heparin",
       "321208": "fondaparinux", "1191": "aspirin", "32968": "clopidogrel", "5640": "ibuprofen", "7258": "naproxen",
       "4083": "estradiol", "4124": "ethinyl estradiol"}
DOAC = {"apixaban", "rivaroxaban", "edoxaban", "dabigatran"}
LMWH = {"enoxaparin", "dalteparin", "tinzaparin"}
ANTICOAG = DOAC | LMWH | {"warfarin", "heparin", "fondaparinux"}


def parse_time(s, end=False):
    if not isinstance(s, str):
        return None
    if re.fullmatch(r"\d{4}", s):
        return dt.datetime(int(s), 12 if end else 1, 31 if end else 1, tzinfo=dt.timezone.utc)
    if re.fullmatch(r"\d{4}-\d{2}", s):
        y, m = map(int, s.split("-"))
        return dt.datetime(y, m, monthrange(y, m)[1] if end else 1, tzinfo=dt.timezone.utc)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def codings(c):
    if not isinstance(c, dict):
        return []
    return [(x.get("system"), x.get("code")) for x in c.get("coding", []) if isinstance(x, dict)]


def icds(c):
    return [code.replace(".", "").upper() for s, code in codings(c) if s == ICD and code]


def icd_in(c, prefixes):
    return any(code.startswith(p.replace(".", "")) for code in icds(c) for p in prefixes)


def icd_range(c, lo, hi, exclude=()):
    for code in icds(c):
        cat3 = code[:3]
        if lo <= cat3 <= hi and not any(code.startswith(e.replace(".", "")) for e in exclude):
            return True
    return False


def sct_in(c, codes):
    return any(s == SCT and code in codes for s, code in codings(c))


def status_code(c):
    cs = codings(c)
    return cs[0][1] if cs else None


class Ctx:
    def __init__(self, req, now):
        self.req, self.now = req, now
        pf = req["prefetch"]
        self.patient = pf.get("patient")
        self.nulls = {k for k, v in pf.items() if v is None}

        def res(key, rtype):
            v = pf.get(key)
            out = []
            if isinstance(v, dict) and v.get("resourceType") == "Bundle":
                for e in v.get("entry", []):
                    r = e.get("resource")
                    if not isinstance(r, dict) or r.get("resourceType") == "OperationOutcome":
                        continue
                    if (e.get("search") or {}).get("mode") == "outcome":
                        continue
                    if r.get("resourceType") == rtype:
                        out.append(r)
            return out

        self.conds = [c for c in res("conditions", "Condition") if c.get("code")]
        self.obs = [o for o in res("observations", "Observation") if o.get("code")]
        self.meds = res("medications", "MedicationRequest")
        self.encs = res("encounters", "Encounter")
        self.procs = res("procedures", "Procedure")
        self.srs = res("serviceRequests", "ServiceRequest")
        ctx = req["context"]
        self.hook = req["hook"]
        self.drafts = [e["resource"] for e in ctx["draftOrders"].get("entry", [])]
        if self.hook == "order-select":
            sel = set(ctx["selections"])
            self.considered = [d for d in self.drafts if f"{d['resourceType']}/{d['id']}" in sel]
        else:
            self.considered = list(self.drafts)
        self.encounter_id = ctx.get("encounterId")

    # ------------------------------------------------------------------ time helpers
    def when(self, t):
        """Clock skew: up to 24 h after now counts as now; later -> None (ignored)."""
        if t is None:
            return None
        if t > self.now + DAY:
            return None
        return min(t, self.now)

    def within(self, t, days):
        t = self.when(t)
        return t is not None and t >= self.now - days * DAY

    # ------------------------------------------------------------------ conditions
    @staticmethod
    def verified(c):
        return status_code(c.get("verificationStatus")) not in ("refuted", "entered-in-error")

    @staticmethod
    def clinically_active(c):
        s = status_code(c.get("clinicalStatus"))
        return s in (None, "active", "recurrence", "relapse")

    def active_conds(self):
        return [c for c in self.conds if self.verified(c) and self.clinically_active(c)]

    def history_conds(self):
        return [c for c in self.conds if self.verified(c)]

    @staticmethod
    def cond_date(c):
        return parse_time(c.get("onsetDateTime") or (c.get("onsetPeriod") or {}).get("start") or c.get("recordedDate"))


def veins_of(sites):
    out = []
    for s in sites or []:
        for sys_, code in codings(s):
            if sys_ == SCT and (code in DISTAL_VEINS or code in PROXIMAL_VEINS):
                out.append(code)
    return out


def side_of(cond):
    sides = set()
    for s in cond.get("bodySite", []) or []:
        for sys_, code in codings(s):
            if sys_ == SCT and code in LATERALITY:
                sides.add(LATERALITY[code])
    for code in icds(cond.get("code")):
        if code.startswith("I82") and len(code) == 6:
            sides.add({"1": "right", "2": "left", "3": "both"}.get(code[5], "unknown"))
    sides.discard("unknown")
    if len(sides) == 1:
        return sides.pop()
    return "both"


DVT_ANY = ["I82.4", "I80.1", "I80.2", "I82.22"]
DISTAL = ["I82.44", "I82.45", "I82.46", "I82.4Z", "I80.23", "I80.24", "I80.25"]
AMBIG = ["I82.40", "I82.49"]
PROXIMAL = ["I82.41", "I82.42", "I82.43", "I82.4Y", "I82.22", "I80.1", "I80.21", "I80.22"]


def quantity(o, key="valueQuantity"):
    q = o.get(key)
    if not isinstance(q, dict):
        return None, None
    v = q.get("value")
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None, None
    code = q.get("code") if q.get("system") == "http://unitsofmeasure.org" else None
    return float(v), code


def strip_annot(code):
    return re.sub(r"\{[^}]*\}", "", code) if code else code


def to_cm(v, code):
    return {"cm": v, "mm": v / 10}.get(strip_annot(code)) if v is not None else None


def to_mm(v, code):
    return {"mm": v, "cm": v * 10}.get(strip_annot(code)) if v is not None else None


def loinc_of(o):
    return {c for s, c in codings(o.get("code")) if s == LOINC}


def usf_of(o):
    return {c for s, c in codings(o.get("code")) if s == USF}


def drug_of(m):
    for s, c in codings(m.get("medicationCodeableConcept")):
        if s == RX and c in ING:
            return ING[c]
    return None


def dose_of(m):
    di = (m.get("dosageInstruction") or [{}])[0]
    dq = None
    for dr in di.get("doseAndRate", []) or []:
        if "doseQuantity" in dr:
            dq = dr["doseQuantity"].get("value")
    rep = ((di.get("timing") or {}).get("repeat") or {})
    freq = rep.get("frequency")
    return dq, freq


def anticoag_kind(m):
    """'therapeutic', 'prophylactic', 'unknown' or None (not an anticoagulant)."""
    d = drug_of(m)
    if d not in ANTICOAG:
        return None
    if d in DOAC or d == "warfarin":
        return "therapeutic"
    dose, freq = dose_of(m)
    if dose is None:
        return "unknown"
    if d == "enoxaparin":
        return "prophylactic" if dose <= 40 and (freq or 1) == 1 else "therapeutic"
    return "therapeutic"


def is_duplex(sr):
    cs = codings(sr.get("code"))
    return any((s == LOINC and c in ("30881-7", "39420-5")) or (s == CPT and c in ("93971", "93970")) for s, c in cs)


def duration_days(m):
    di = (m.get("dosageInstruction") or [{}])[0]
    rep = ((di.get("timing") or {}).get("repeat") or {})
    bd = rep.get("boundsDuration")
    if bd:
        return bd["value"] * {"d": 1, "wk": 7, "mo": 30.4375, "a": 365.25}[bd["code"]]
    esd = (m.get("dispenseRequest") or {}).get("expectedSupplyDuration")
    if esd:
        return esd["value"] * {"d": 1, "wk": 7, "mo": 30.4375}[esd["code"]]
    return None


def evaluate(req, now_s):
    now = parse_time(now_s)
    x = Ctx(req, now)
    act = x.active_conds()

    # ---------------- findings (window fixed after index date)
    all_findings = [o for o in x.obs if usf_of(o) and o.get("status") in ("final", "amended", "corrected", "preliminary")]

    # ---------------- index DVT
    def finding_veins(idx_date):
        out = []
        for o in all_findings:
            t = x.when(parse_time(o.get("effectiveDateTime")))
            if t is None or t < idx_date - 14 * DAY:
                continue
            if "vein-involved" in usf_of(o):
                for s, c in codings(o.get("valueCodeableConcept")):
                    if s == SCT:
                        out.append(c)
        return out

    candidates = []
    for c in x.conds:
        if status_code(c.get("verificationStatus")) not in (None, "confirmed"):
            continue
        if status_code(c.get("clinicalStatus")) not in ("active", "recurrence", "relapse"):
            continue
        code = c.get("code")
        sites = veins_of(c.get("bodySite"))
        if any(v in PROXIMAL_VEINS for v in sites):
            continue
        if icd_in(code, DISTAL):
            candidates.append(c)
        elif icd_in(code, AMBIG) or sct_in(code, {"404223003", "128053003"}):
            named = sites or finding_veins(x.cond_date(c))
            if named and all(v in DISTAL_VEINS for v in named):
                candidates.append(c)
    if not candidates:
        return []
    index = max(candidates, key=x.cond_date)
    idx_date = x.cond_date(index)
    idx_day = idx_date.date()

    def fwin(o):
        t = x.when(parse_time(o.get("effectiveDateTime")))
        return t is not None and t >= idx_date - 14 * DAY

    findings = [o for o in all_findings if fwin(o)]

    def finding(code):
        fs = [o for o in findings if code in usf_of(o)]
        fs.sort(key=lambda o: x.when(parse_time(o["effectiveDateTime"])))
        return fs[-1] if fs else None

    # ---------------- isolated?
    isolated = True
    for c in act:
        code = c.get("code")
        if icd_in(code, PROXIMAL) or icd_in(code, ["I26"]) or sct_in(code, {"59282003"}):
            isolated = False
        if (icd_in(code, DVT_ANY) or sct_in(code, {"404223003", "128053003"})) and \
                any(v in PROXIMAL_VEINS for v in veins_of(c.get("bodySite"))):
            isolated = False
    ext = finding("extends-to-proximal-veins")
    if ext is not None and ext.get("valueBoolean") is True:
        isolated = False

    # ---------------- labs
    def latest(loincs, days=None, since=None):
        best = None
        for o in x.obs:
            if o.get("status") not in ("final", "amended", "corrected", "preliminary"):
                continue
            if not (loinc_of(o) & set(loincs)):
                continue
            t = x.when(parse_time(o.get("effectiveDateTime")))
            if t is None:
                continue
            if days is not None and t < now - days * DAY:
                continue
            if since is not None and t < since:
                continue
            if best is None or t > best[0]:
                best = (t, o)
        return best[1] if best else None

    # ---------------- patient / age
    age = None
    bd = (x.patient or {}).get("birthDate")
    if bd:
        b = parse_time(bd, end=True).date()
        n = now.date()
        age = n.year - b.year - ((n.month, n.day) < (b.month, b.day))

    missing = set()
    erf = set()

    # thrombus length / diameter
    f = finding("thrombus-length")
    if f is None:
        missing.add("thrombus-length")
    else:
        v = to_cm(*quantity(f))
        if v is None:
            missing.add("thrombus-length")
        elif v > 5:
            erf.add("thrombus-length")
    f = finding("thrombus-diameter")
    if f is None:
        missing.add("thrombus-diameter")
    else:
        v = to_mm(*quantity(f))
        if v is None:
            missing.add("thrombus-diameter")
        elif v > 7:
            erf.add("thrombus-diameter")
    # multiple veins
    idx_sites = set()
    for c in candidates:
        idx_sites |= {v for v in veins_of(c.get("bodySite")) if v in DISTAL_VEINS}
    fv = {v for v in finding_veins(idx_date) if v in DISTAL_VEINS}
    count = finding("veins-involved")
    cnt = count.get("valueInteger") if count else None
    if (cnt is not None and cnt >= 2) or len(idx_sites | fv) >= 2:
        erf.add("multiple-veins")
    elif cnt is not None or fv:
        pass
    else:
        missing.add("veins-involved")
    # near proximal
    near = finding("near-proximal-veins")
    dist = finding("distance-to-proximal-veins")
    dv = to_cm(*quantity(dist)) if dist else None
    if (near is not None and near.get("valueBoolean") is True) or (dv is not None and dv <= 5):
        erf.add("near-proximal-veins")
    elif near is None and dv is None:
        missing.add("distance-to-proximal-veins")
    # D-dimer
    FEU, DDU = {"48065-7", "48067-3", "71427-9"}, {"48066-5", "48058-2", "91556-1"}
    dd = None
    for o in x.obs:
        if o.get("status") not in ("final", "amended", "corrected"):
            continue
        if not (loinc_of(o) & (FEU | DDU | {"7799-0", "3246-6", "15179-5"})):
            continue
        t = x.when(parse_time(o.get("effectiveDateTime")))
        if t is None or t < idx_date - 14 * DAY:
            continue
        if dd is None or t > dd[0]:
            dd = (t, o)
    dpos = None
    if dd:
        o = dd[1]
        interp = [c for s, c in codings((o.get("interpretation") or [{}])[0])]
        v, unit = quantity(o)
        high = (o.get("referenceRange") or [{}])[0].get("high")
        if interp and interp[0] in ("H", "HH", "A", "AA", "POS", "DET"):
            dpos = True
        elif interp and interp[0] in ("N", "L", "NEG", "ND"):
            dpos = False
        elif high and v is not None and strip_annot(high.get("code")) == strip_annot(unit):
            dpos = v > high["value"]
        elif v is not None and unit is not None:
            u = strip_annot(unit)
            if loinc_of(o) & FEU:
                mgl = {"mg/L": v, "ug/mL": v, "ng/mL": v / 1000}.get(u)
                dpos = None if mgl is None else mgl >= 0.5
            elif loinc_of(o) & DDU:
                ngml = {"ng/mL": v, "ug/mL": v * 1000, "mg/L": v * 1000}.get(u)
                dpos = None if ngml is None else ngml >= 250
    if dpos is None:
        missing.add("d-dimer")
    elif dpos:
        erf.add("positive-d-dimer")

    # ---------------- provoking factors and other extension factors
    def cond_within(pred, days, conds=act):
        return any(pred(c) and x.within(x.cond_date(c), days) for c in conds)

    cancer = any(icd_range(c.get("code"), "C00", "C96", exclude=["C44"]) or sct_in(c.get("code"), {"363346000", "128462008"})
                 for c in act)
    metastatic = any(icd_in(c.get("code"), ["C77", "C78", "C79", "C80.0"]) or sct_in(c.get("code"), {"128462008"})
                     for c in act)
    # pregnancy / postpartum
    def is_delivery(c):
        return icd_in(c.get("code"), ["O80", "O82", "Z37", "Z39.2"])

    deliveries = [x.cond_date(c) for c in x.history_conds() if is_delivery(c)]
    last_delivery = max(deliveries) if deliveries else None

    def preg_cond(c):
        return (icd_in(c.get("code"), ["Z33.1", "Z34", "Z3A"]) or
                (icd_range(c.get("code"), "O00", "O9A") and not icd_in(c.get("code"),
                 ["O80", "O82", "O85", "O86", "O87", "O88", "O89", "O90", "O91", "O92", "O94"]))
                or sct_in(c.get("code"), {"77386006"}))

    pregnant = any(preg_cond(c) for c in act)
    for o in x.obs:
        if "82810-3" in loinc_of(o) and any(s == SCT and c == "77386006"
                                             for s, c in codings(o.get("valueCodeableConcept"))):
            t = x.when(parse_time(o.get("effectiveDateTime")))
            if t and t >= now - 273 * DAY and (last_delivery is None or last_delivery < t):
                pregnant = True
    postpartum = last_delivery is not None and x.within(last_delivery, 42) and not pregnant
    estrogen = any(drug_of(m) in ("estradiol", "ethinyl estradiol") and m.get("status") in ("active", "on-hold")
                   for m in x.meds)
    bed = any(icd_in(c.get("code"), ["Z74.01"]) for c in act)
    reduced = any(icd_in(c.get("code"), ["Z74.01", "Z74.09"]) for c in act)
    covid = any(icd_in(c.get("code"), ["U07.1"]) or sct_in(c.get("code"), {"840539006"}) for c in act)
    covid30 = covid and cond_within(lambda c: icd_in(c.get("code"), ["U07.1"]), 30)
    injury = cond_within(lambda c: icd_range(c.get("code"), "S70", "S99"), 60)

    def surgical(p):
        if p.get("status") not in ("completed", "in-progress"):
            return False
        if sct_in(p.get("category"), {"387713003"}):
            return True
        return any(s == CPT and c.isdigit() and 10000 <= int(c) <= 69999 for s, c in codings(p.get("code")))

    surgery = any(surgical(p) and x.within(parse_time(p.get("performedDateTime")
                                                      or (p.get("performedPeriod") or {}).get("end")), 90)
                  for p in x.procs)
    STAY = {"IMP", "ACUTE", "NONAC", "OBSENC"}
    stay = False
    for e in x.encs:
        cls = (e.get("class") or {}).get("code")
        if cls not in STAY:
            continue
        end = parse_time((e.get("period") or {}).get("end"))
        if e.get("status") == "in-progress" or e.get("id") == x.encounter_id:
            stay = True
        elif end is not None and x.within(end, 90):
            stay = True
    inpatient = stay or bed
    if inpatient:
        erf.add("inpatient")
    if surgery:
        erf.add("recent-surgery")
    if cancer:
        erf.add("active-cancer")
    if covid:
        erf.add("covid-19")
    provoked = surgery or stay or cancer or pregnant or postpartum or estrogen or bed or reduced or covid30 or injury
    if not provoked:
        erf.add("unprovoked")
    # prior VTE
    for c in x.history_conds():
        if c is index or c in candidates and x.cond_date(c) >= idx_date:
            continue
        code = c.get("code")
        if icd_in(code, ["Z86.711", "Z86.718"]):
            erf.add("prior-vte")
        elif (icd_in(code, ["I82.4", "I82.5", "I26", "I80.1", "I80.2"]) or sct_in(code, {"128053003", "404223003", "59282003"})) \
                and x.cond_date(c) < idx_date:
            erf.add("prior-vte")
    # severe symptoms
    if sct_in(index.get("severity"), {"24484000"}):
        erf.add("severe-symptoms")
    for o in x.obs:
        if "72514-3" in loinc_of(o) and o.get("status") in ("final", "amended", "corrected", "preliminary"):
            v, _ = quantity(o)
            if v is None:
                v = o.get("valueInteger")
            if v is not None and v >= 7 and x.within(parse_time(o.get("effectiveDateTime")), 7):
                erf.add("severe-symptoms")

    # ---------------- renal
    renal = None
    crcl = latest(["35591-7", "2164-2"], days=90)
    egfr = latest(["33914-3", "48642-3", "48643-1", "62238-1", "88293-6", "98979-8"], days=90)
    if crcl is not None:
        renal = quantity(crcl)[0]
    elif egfr is not None:
        renal = quantity(egfr)[0]
    esrd_cond = any(icd_in(c.get("code"), ["N18.6", "Z99.2", "Z49"]) or sct_in(c.get("code"), {"46177005"}) for c in act)
    dialysis = any(icd_in(c.get("code"), ["Z99.2", "Z49"]) for c in act)
    ckd45 = any(icd_in(c.get("code"), ["N18.4", "N18.5", "N18.6"]) for c in act)
    if esrd_cond:
        renal_class = "severe"
    elif renal is None:
        renal_class = None
        missing.add("renal-function")
    elif renal < 15:
        renal_class = "severe"
    elif renal < 30:
        renal_class = "impaired"
    else:
        renal_class = "ok"

    # ---------------- bleeding
    brf = set()
    if age is None:
        missing.add("age")
    elif age >= 76:
        brf.add("age-over-75")
    elif age >= 66:
        brf.add("age-over-65")
    hist = x.history_conds()
    if any(icd_in(c.get("code"), ["K92.0", "K92.1", "K92.2", "I60", "I61", "I62", "R58", "D68.32"]) or
           sct_in(c.get("code"), {"131148009"}) for c in hist):
        brf.add("previous-bleeding")
    if cancer:
        brf.add("cancer")
    if metastatic:
        brf.add("metastatic-cancer")
    if renal_class in ("severe", "impaired") or ckd45 or dialysis:
        brf.add("renal-failure")
    if any(icd_in(c.get("code"), ["K72", "K70.4", "K74.6"]) for c in act):
        brf.add("liver-failure")
    plt = latest(["777-3", "26515-7"], days=30)
    if plt is None:
        missing.add("platelets")
    else:
        v, u = quantity(plt)
        if v is None or u not in ("10*3/uL", "10*9/L"):
            missing.add("platelets")
        elif v < 100:
            brf.add("thrombocytopenia")
    if any(icd_in(c.get("code"), ["D69.6", "D69.3", "D69.4", "D69.59"]) for c in act):
        brf.add("thrombocytopenia")
    stroke = any(icd_in(c.get("code"), ["I60", "I61", "I63", "I69", "Z86.73"]) or sct_in(c.get("code"), {"230690007"})
                 for c in hist)
    if stroke:
        brf.add("previous-stroke")
    if any(icd_range(c.get("code"), "E08", "E13") for c in act):
        brf.add("diabetes")
    hb = latest(["718-7"], days=30)
    if hb is None:
        missing.add("hemoglobin")
    else:
        v, u = quantity(hb)
        g = {"g/dL": v, "g/L": (v / 10 if v is not None else None),
             "mmol/L": (v * 1.611 if v is not None else None)}.get(u)
        if g is None:
            missing.add("hemoglobin")
        elif g < 10:
            brf.add("anemia")
    if any(icd_range(c.get("code"), "D50", "D64") for c in act):
        brf.add("anemia")
    active_meds = [m for m in x.meds if m.get("status") in ("active", "on-hold")]
    if any(drug_of(m) in ("aspirin", "clopidogrel") for m in active_meds):
        brf.add("antiplatelet-therapy")
    if surgery:
        brf.add("recent-surgery")
    if any(icd_in(c.get("code"), ["R29.6", "Z91.81"]) for c in act):
        brf.add("frequent-falls")
    if any(icd_in(c.get("code"), ["F10.1", "F10.2"]) for c in act):
        brf.add("alcohol-abuse")
    if any(drug_of(m) in ("ibuprofen", "naproxen") for m in active_meds):
        brf.add("nsaid-therapy")
    w = latest(["29463-7"], days=90)
    if w is None or quantity(w)[0] is None:
        missing.add("body-weight")
    score = sum(2 if f_ == "age-over-75" else 1 for f_ in brf)
    bleeding = "low" if score == 0 else "moderate" if score == 1 else "high"

    sp = set()
    if pregnant:
        sp.add("pregnancy")
    if postpartum:
        sp.add("postpartum")
    if cancer:
        sp.add("active-cancer")
    if renal_class == "severe":
        sp.add("severe-renal-impairment")
    elif renal_class == "impaired":
        sp.add("renal-impairment")
    pm = set()
    if renal_class == "severe":
        pm.add("end-stage-renal-disease")
    if stroke:
        pm.add("prior-stroke")

    # muscular only
    named = set(idx_sites | fv)
    kinds = {DISTAL_VEINS[v] for v in named}
    for c in candidates:
        if icd_in(c.get("code"), ["I82.46", "I80.25"]):
            kinds.add("muscular")
        if icd_in(c.get("code"), ["I82.44", "I82.45", "I80.23", "I80.24"]):
            kinds.add("axial")
    muscular = None if not kinds else (kinds == {"muscular"})

    # regimens
    if pregnant:
        regs = ["enoxaparin"]
    elif renal_class == "severe":
        regs = ["warfarin"]
    elif postpartum:
        regs = ["enoxaparin", "warfarin"]
    elif cancer:
        regs = ["enoxaparin", "apixaban"]
    elif renal_class == "impaired":
        regs = ["apixaban", "enoxaparin"]
    else:
        regs = ["apixaban", "rivaroxaban", "enoxaparin"]

    if not erf:
        rec = "serial-imaging"
    elif bleeding != "high":
        rec = "anticoagulate"
    else:
        rec = "individualize"

    cards = []
    # ---------------- already managed?
    managed = False
    for m in x.meds:
        if m.get("status") in ("active", "on-hold") and m.get("intent") in ("order", "plan", "original-order") \
                and anticoag_kind(m) == "therapeutic":
            managed = True
    based = {r.get("reference") for o in x.obs for r in o.get("basedOn", []) or []}
    recorded = parse_time(index.get("recordedDate"))
    for s in x.srs:
        if not is_duplex(s) or s.get("status") not in ("active", "on-hold", "draft"):
            continue
        occ = parse_time(s.get("occurrenceDateTime"))
        if occ is not None:
            if occ.date() >= idx_day + 3 * DAY:
                managed = True
        elif recorded and parse_time(s.get("authoredOn")) and parse_time(s.get("authoredOn")) > recorded \
                and f"ServiceRequest/{s['id']}" not in based:
            managed = True

    # ---------------- drafts
    ther_draft = any(d["resourceType"] == "MedicationRequest" and anticoag_kind(d) == "therapeutic"
                     for d in x.considered)
    duplex_draft = any(d["resourceType"] == "ServiceRequest" and is_duplex(d) for d in x.considered)
    if x.hook == "order-select":
        silenced = {"anticoagulate": ther_draft, "serial-imaging": duplex_draft,
                    "individualize": ther_draft or duplex_draft}[rec]
    else:
        silenced = ther_draft or duplex_draft

    if isolated and not managed and not silenced:
        if rec == "serial-imaging":
            ind = "warning" if (x.hook == "order-sign" or pregnant or pm) else "info"
        else:
            ind = "warning"
        if rec == "serial-imaging":
            sugg = [{"isRecommended": True, "actions": ["create ServiceRequest duplex"] * 2}]
        elif rec == "anticoagulate":
            sugg = [{"isRecommended": i == 0, "actions": [f"create MedicationRequest {r}"]} for i, r in enumerate(regs)]
        else:
            sugg = [{"isRecommended": False, "actions": ["create ServiceRequest duplex"] * 2}] + \
                   [{"isRecommended": False, "actions": [f"create MedicationRequest {r}"]} for r in regs]
        card = {"kind": "stratification", "indicator": ind, "recommendation": rec,
                "extensionRiskFactors": sorted(erf), "bleedingRisk": bleeding, "bleedingRiskFactors": sorted(brf),
                "specialPopulations": sorted(sp), "progressionModifiers": sorted(pm), "missingData": sorted(missing),
                "muscularOnly": muscular, "suggestions": sugg}
        if rec != "anticoagulate":
            d1 = max(idx_day + 7 * DAY, now.date())
            d2 = max(idx_day + 14 * DAY, d1 + 7 * DAY)
            card["duplexDue"] = [d1.isoformat(), d2.isoformat()]
            card["duplexLaterality"] = side_of(index)
        cards.append(card)

    # ---------------- order safety (index DVT exists)
    med_drafts = [d for d in x.considered if d["resourceType"] == "MedicationRequest"]
    ref = lambda d: f"MedicationRequest/{d['id']}"
    bad = [d for d in med_drafts if drug_of(d) in DOAC | {"warfarin"}]
    if pregnant and bad:
        cards.append({"kind": "order-safety", "check": "pregnancy-anticoagulant", "indicator": "critical",
                      "orders": [ref(d) for d in bad],
                      "suggestions": [{"isRecommended": True, "actions": [f"delete {ref(d)}" for d in bad]
                                       + ["create MedicationRequest enoxaparin"]}]})
    warn, info = [], []
    for d in med_drafts:
        g = drug_of(d)
        if g not in DOAC:
            continue
        if renal_class is None:
            info.append(d)
        elif g in ("rivaroxaban", "edoxaban", "dabigatran") and renal_class in ("impaired", "severe"):
            warn.append(d)
        elif g == "apixaban" and renal_class == "severe":
            warn.append(d)
    if warn:
        repl = "warfarin" if renal_class == "severe" else "apixaban"
        cards.append({"kind": "order-safety", "check": "renal-doac", "indicator": "warning",
                      "orders": [ref(d) for d in warn],
                      "suggestions": [{"isRecommended": True, "actions": [f"delete {ref(d)}" for d in warn]
                                       + [f"create MedicationRequest {repl}"]}]})
    elif info:
        cards.append({"kind": "order-safety", "check": "renal-doac", "indicator": "info",
                      "orders": [ref(d) for d in info], "suggestions": []})
    ther = lambda m: anticoag_kind(m) in ("therapeutic", "unknown")
    actives = [m for m in x.meds if m.get("status") in ("active", "on-hold") and anticoag_kind(m) == "therapeutic"]
    dup = []

    def bridge(a, b_):
        s = {a, b_}
        return "warfarin" in s and bool(s & (LMWH | {"heparin"}))

    for d in med_drafts:
        if not ther(d):
            continue
        others = [m for m in actives + med_drafts if m is not d and ther(m) and drug_of(m) != drug_of(d)
                  and not bridge(drug_of(m), drug_of(d))]
        if others:
            dup.append(d)
    if dup:
        cards.append({"kind": "order-safety", "check": "duplicate-anticoagulant", "indicator": "warning",
                      "orders": [ref(d) for d in dup], "suggestions": []})
    index_refs = {f"Condition/{c['id']}" for c in candidates}
    short = []
    for d in med_drafts:
        if drug_of(d) not in ANTICOAG:
            continue
        reasons = [r.get("reference") for r in d.get("reasonReference", []) or []]
        rcodes = d.get("reasonCode") or []
        other = any(r not in index_refs for r in reasons) or (not reasons and any(
            not icd_in(rc, ["I82", "I80", "I26"]) for rc in rcodes))
        days = duration_days(d)
        if not other and days is not None and days < 90:
            short.append(d)
    if short:
        cards.append({"kind": "order-safety", "check": "short-duration", "indicator": "info",
                      "orders": [ref(d) for d in short],
                      "suggestions": [{"isRecommended": True, "actions": [f"update {ref(d)}" for d in short]}]})
    return cards


# ---------------------------------------------------------------------- shape checks
def empties(v, path=""):
    out = []
    if isinstance(v, dict):
        if not v:
            out.append(path)
        for k, w in v.items():
            if path.startswith("/prefetch") and path.count("/") == 1 and w is None:
                continue
            out += empties(w, f"{path}/{k}")
    elif isinstance(v, list):
        if not v:
            out.append(path)
        for i, w in enumerate(v):
            out += empties(w, f"{path}/{i}")
    elif v is None or v == "":
        out.append(path)
    return out


def normalise(cards):
    out = {}
    for c in cards:
        c = dict(c)
        for k in ("extensionRiskFactors", "bleedingRiskFactors", "specialPopulations", "progressionModifiers",
                  "missingData", "orders"):
            if k in c:
                c[k] = sorted(c[k])
        out[(c["kind"], c.get("check"))] = c
    return out


def main():
    bad = 0
    seen = set()
    files = sorted(glob.glob(os.path.join(ROOT, "*", "*.request.json")))
    for f in files:
        name = os.path.relpath(f, ROOT)
        req = json.load(open(f))
        exp = json.load(open(f.replace(".request.json", ".expected.json")))
        problems = []
        keys = set(req["prefetch"])
        if keys != {"patient", "conditions", "observations", "medications", "encounters", "procedures",
                    "serviceRequests"}:
            problems.append(f"prefetch keys {keys}")
        e = empties(req)
        if e:
            problems.append(f"empty values at {e}")
        if req["hookInstance"] in seen:
            problems.append("duplicate hookInstance")
        seen.add(req["hookInstance"])
        got = normalise(evaluate(req, exp["now"]))
        want = normalise(exp["cards"])
        if got != want:
            for k in sorted(set(got) | set(want), key=str):
                if got.get(k) != want.get(k):
                    g, w = got.get(k), want.get(k)
                    if g and w:
                        diff = {kk: (g.get(kk), w.get(kk)) for kk in set(g) | set(w) if g.get(kk) != w.get(kk)}
                        problems.append(f"{k}: checker vs expected {diff}")
                    else:
                        problems.append(f"{k}: checker {g} vs expected {w}")
        if problems:
            bad += 1
            print(f"FAIL {name}")
            for p in problems:
                print("   ", p)
    print(f"{len(files)} fixtures, {bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

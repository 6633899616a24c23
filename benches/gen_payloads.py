#!/usr/bin/env python3
"""Benchmark payloads: complete order-select hook requests of realistic size (fixed seed).

Each payload is the clinical story of one fixture (an acute isolated peroneal-vein DVT with
duplex findings, positive D-dimer, eGFR, Hb, platelets, weight and a draft order) padded with
years of record an EHR prefetch really carries: lab panels full of LOINC codes the rules never
read (BMP, CBC, lipids, liver, TSH, HbA1c, vitals), older values of the labs they do read,
ambulatory encounters, chronic and stopped medications, old problems, procedures and service
requests. The noise is dated before the index event and uses codes outside the value sets, so
each payload must give the same cards as the fixture (`load.sh` and `cargo bench` check 200 +
cards; `python3 benches/gen_payloads.py --check BIN` compares the cards with the fixture's).

    python3 benches/gen_payloads.py [OUT_DIR [SIZE...]]     # default: benches/payloads, all sizes

Sizes: small (~30 resources), typical (~300), large (~3000), peer (~90 KB: under the Node
reference service's 100 KB body limit).
"""
import copy
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASE = os.path.join(ROOT, "fhir-fixtures", "recommendation", "anticoagulate-order-select-unprovoked.request.json")
SEED = 8
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
OCAT = "http://terminology.hl7.org/CodeSystem/observation-category"

# (LOINC, display, unit, ucum, low, high): panels the rules never read ...
NOISE_LABS = [
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 134, 146),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 3.4, 5.2),
    ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 96, 108),
    ("1963-8", "Bicarbonate [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 21, 30),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 7, 22),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 72, 140),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 8.5, 10.4),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 4, 10.5),
    ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", "%", 36, 48),
    ("787-2", "MCV [Entitic volume] by Automated count", "fL", "fL", 80, 98),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 150, 240),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 70, 200),
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 35, 75),
    ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", "mg/dL", 70, 160),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%", 5.0, 6.2),
    ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", "m[IU]/L", 0.5, 4.0),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 10, 45),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 10, 40),
    ("8867-4", "Heart rate", "/min", "/min", 58, 96),
    ("8310-5", "Body temperature", "Cel", "Cel", 36.2, 37.4),
    ("8302-2", "Body height", "cm", "cm", 171, 172),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", 24, 28),
]
# ... and older values of labs they do read (dated long before the index event).
READ_LABS = [
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", 13.2, 15.8),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 180, 360),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0.7, 1.1),
    ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood "
     "by Creatinine-based formula (CKD-EPI 2021)", "mL/min/1.73m2", "mL/min/{1.73_m2}", 75, 100),
    ("29463-7", "Body weight", "kg", "kg", 76, 84),
]
CHRONIC_MEDS = [("29046", "lisinopril", 10), ("17767", "amlodipine", 5), ("7646", "omeprazole", 20),
                ("10582", "levothyroxine", 0.075)]
OLD_PROBLEMS = [("I10", "Essential (primary) hypertension"), ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
                ("E03.9", "Hypothyroidism, unspecified"), ("J30.9", "Allergic rhinitis, unspecified"),
                ("M54.50", "Low back pain, unspecified"), ("J06.9", "Acute upper respiratory infection, unspecified"),
                ("H52.4", "Presbyopia"), ("L70.0", "Acne vulgaris")]
OLD_PROCEDURES = [("45378", "Colonoscopy, flexible; diagnostic", "http://www.ama-assn.org/go/cpt"),
                  ("93000", "Electrocardiogram, routine ECG with at least 12 leads", "http://www.ama-assn.org/go/cpt")]
OLD_SERVICE_REQUESTS = [("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
                        ("58410-2", "CBC panel - Blood by Automated count"), ("57698-3", "Lipid panel with direct LDL")]

# (target resource count, peer-sized cap in bytes or None)
SIZES = {"small": (30, None), "typical": (300, None), "large": (3000, None), "peer": (10_000, 95_000)}


def day(rng, year_lo=2016, year_hi=2026):
    """A date before the index event (2026-11-19): noise never competes with it."""
    y = rng.randint(year_lo, year_hi)
    m = rng.randint(1, 10 if y == 2026 else 12)
    return f"{y:04d}-{m:02d}-{rng.randint(1, 28):02d}"


class Noise:
    def __init__(self, pid, rng):
        self.pid, self.rng, self.n = pid, rng, 0
        self.subject = {"reference": f"Patient/{pid}"}

    def nid(self, prefix):
        self.n += 1
        return f"{prefix}-{self.n:05d}"

    def lab(self, spec, when):
        code, display, unit, ucum, lo, hi = spec
        value = round(self.rng.uniform(lo, hi), 1 if hi < 50 else 0)
        return {"resourceType": "Observation", "id": self.nid("obs"), "meta": {"lastUpdated": when + "T18:00:00Z"},
                "status": "final",
                "category": [{"coding": [{"system": OCAT, "code": "laboratory", "display": "Laboratory"}]}],
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
                "subject": self.subject, "encounter": {"reference": "Encounter/" + self.nid("enc-lab")},
                "effectiveDateTime": when + "T08:15:00Z", "issued": when + "T11:02:00Z",
                "performer": [{"display": "Ehr Example Central Laboratory"}],
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
                "referenceRange": [{"low": {"value": lo, "unit": unit, "system": UCUM, "code": ucum},
                                    "high": {"value": hi, "unit": unit, "system": UCUM, "code": ucum}}]}

    def blood_pressure(self, when):
        comp = lambda code, display, v: {  # noqa: E731
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}
        return {"resourceType": "Observation", "id": self.nid("bp"), "status": "final",
                "category": [{"coding": [{"system": OCAT, "code": "vital-signs", "display": "Vital Signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
                "subject": self.subject, "effectiveDateTime": when + "T09:00:00Z",
                "component": [comp("8480-6", "Systolic blood pressure", self.rng.randint(112, 142)),
                              comp("8462-4", "Diastolic blood pressure", self.rng.randint(68, 90))]}

    def encounter(self, when):
        return {"resourceType": "Encounter", "id": self.nid("enc"), "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
                          "display": "ambulatory"},
                "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003",
                                      "display": "Encounter for check up"}]}],
                "subject": self.subject, "participant": [{"individual": {"display": "Primary care clinician"}}],
                "period": {"start": when + "T14:00:00Z", "end": when + "T14:30:00Z"},
                "serviceProvider": {"display": "Ehr Example Family Practice"}}

    def medication(self, when, active):
        code, name, dose = self.rng.choice(CHRONIC_MEDS)
        return {"resourceType": "MedicationRequest", "id": self.nid("mr"),
                "status": "active" if active else self.rng.choice(["completed", "stopped"]), "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": RX, "code": code, "display": name}],
                                              "text": f"{name} {dose} mg oral tablet"},
                "subject": self.subject, "authoredOn": when,
                "requester": {"display": "Primary care clinician"},
                "dosageInstruction": [{"text": f"{dose} mg once daily",
                                       "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                       "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg",
                                                                         "system": UCUM, "code": "mg"}}]}],
                "dispenseRequest": {"numberOfRepeatsAllowed": 3,
                                    "quantity": {"value": 90, "unit": "tablet"}}}

    def condition(self, when):
        code, display = self.rng.choice(OLD_PROBLEMS)
        resolved = code in ("J06.9", "L70.0", "M54.50")
        c = {"resourceType": "Condition", "id": self.nid("cond"),
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "resolved" if resolved else "active"}]},
             "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                "code": "confirmed"}]},
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                       "code": "encounter-diagnosis"}]}],
             "code": {"coding": [{"system": ICD, "code": code, "display": display}], "text": display},
             "subject": self.subject, "onsetDateTime": when, "recordedDate": when}
        if resolved:
            c["abatementDateTime"] = when
        return c

    def procedure(self, when):
        code, display, system = self.rng.choice(OLD_PROCEDURES)
        return {"resourceType": "Procedure", "id": self.nid("proc"), "status": "completed",
                "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
                "subject": self.subject, "performedDateTime": when + "T10:00:00Z"}

    def service_request(self, when):
        code, display = self.rng.choice(OLD_SERVICE_REQUESTS)
        return {"resourceType": "ServiceRequest", "id": self.nid("sr"), "status": "completed", "intent": "order",
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
                "subject": self.subject, "authoredOn": when, "occurrenceDateTime": when}


def visit(noise, rng, add):
    """One ambulatory visit: an encounter, a lab panel or two, vitals, maybe orders."""
    when = day(rng)
    add("encounters", noise.encounter(when))
    add("observations", noise.blood_pressure(when))
    for spec in rng.sample(NOISE_LABS, rng.randint(4, 9)):
        add("observations", noise.lab(spec, when))
    for spec in rng.sample(READ_LABS, rng.randint(1, 3)):
        add("observations", noise.lab(spec, when))
    if rng.random() < 0.3:
        add("medications", noise.medication(when, active=rng.random() < 0.3))
    if rng.random() < 0.15:
        add("conditions", noise.condition(when))
    if rng.random() < 0.15:
        add("serviceRequests", noise.service_request(when))
    if rng.random() < 0.05:
        add("procedures", noise.procedure(when))


def build(name, base):
    target, cap = SIZES[name]
    rng = random.Random(f"{SEED}-{name}")
    req = copy.deepcopy(base)
    req["hookInstance"] = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
    pid = req["context"]["patientId"]
    noise = Noise(pid, rng)
    prefetch = req["prefetch"]

    def count():
        return 1 + sum(len(v.get("entry", [])) for v in prefetch.values() if v and v["resourceType"] == "Bundle")

    def add(key, resource):
        bundle = prefetch[key]
        bundle.setdefault("entry", []).append(
            {"fullUrl": f"https://ehr.example.org/fhir/{resource['resourceType']}/{resource['id']}",
             "resource": resource, "search": {"mode": "match"}})

    while count() < target:
        snapshot = copy.deepcopy(prefetch) if cap else None
        visit(noise, rng, add)
        if cap and len(json.dumps(req).encode()) > cap:
            req["prefetch"] = prefetch = snapshot
            break
    for bundle in prefetch.values():
        if bundle and bundle["resourceType"] == "Bundle":
            bundle["total"] = len(bundle.get("entry", []))
    return req, count()


def cards_of(binary, path):
    out = subprocess.run([binary, "evaluate", "--now", "2026-11-20T12:00:00Z", path],
                         check=True, capture_output=True, text=True).stdout
    cards = json.loads(out)["cards"]
    for c in cards:  # uuids are fresh per call
        c.pop("uuid", None)
        for s in c.get("suggestions", []):
            s.pop("uuid", None)
    return cards


def main(argv):
    check = None
    if argv and argv[0] == "--check":
        check, argv = argv[1], argv[2:]
    out_dir = argv[0] if argv else os.path.join(HERE, "payloads")
    sizes = argv[1:] or list(SIZES)
    os.makedirs(out_dir, exist_ok=True)
    with open(BASE) as f:
        base = json.load(f)
    for name in sizes:
        req, n = build(name, base)
        path = os.path.join(out_dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(req, f, separators=(",", ":"))
        print(f"{name:8} {n:5} resources {os.path.getsize(path):9} bytes  {path}")
        if check:
            same = cards_of(check, path) == cards_of(check, BASE)
            print(f"{'':8} cards equal to the fixture's: {same}")
            if not same:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

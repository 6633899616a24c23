"""Builders for the fixture generator: small FHIR R4 resources as a typical EHR sends them.

Only used by generate.py. The JSON files are the source of truth once written."""
import random
import uuid

FHIR = "https://ehr.example.org/fhir"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CCAT = "http://terminology.hl7.org/CodeSystem/condition-category"
OCAT = "http://terminology.hl7.org/CodeSystem/observation-category"
USF = "https://fhir.distal-dvt-cds.org/CodeSystem/ultrasound-finding"

VEINS = {
    "gastrocnemius": ("264481007", "Gastrocnemius vein"),
    "soleal": ("397427005", "Soleal vein"),
    "posterior-tibial": ("4258007", "Posterior tibial vein"),
    "anterior-tibial": ("26703007", "Anterior tibial vein"),
    "peroneal": ("71758008", "Peroneal vein"),
    "popliteal": ("56849005", "Popliteal vein"),
    "femoral": ("83419000", "Femoral vein"),
    "great-saphenous": ("60734001", "Great saphenous vein"),
}
SIDES = {"right": ("24028007", "Right"), "left": ("7771000", "Left"), "both": ("51440002", "Right and left")}

# RxNorm ingredients used in the fixtures.
DRUGS = {
    "apixaban": "1364430", "rivaroxaban": "1114195", "enoxaparin": "67108", "warfarin": "11289",
    "aspirin": "1191", "clopidogrel": "32968", "ibuprofen": "5640", "naproxen": "7258",
    "estradiol": "4083", "acetaminophen": "161", "atorvastatin": "83367", "lisinopril": "29046",
    "metformin": "6809", "amlodipine": "17767", "omeprazole": "7646", "levothyroxine": "10582",
}


def coding(system, code, display=None):
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def cc(system, code, display=None, text=None):
    v = {"coding": [coding(system, code, display)]}
    if text:
        v["text"] = text
    return v


def qty(value, unit, code=None, system=UCUM):
    q = {"value": value, "unit": unit}
    if system:
        q["system"] = system
    q["code"] = code if code is not None else unit
    return q


class Builder:
    """Resources for one patient."""

    def __init__(self, pid):
        self.pid = pid
        self.subject = {"reference": f"Patient/{pid}"}

    # ---------------------------------------------------------------- Patient
    def patient(self, given, birth_date, gender, extra=None):
        p = {
            "resourceType": "Patient",
            "id": self.pid,
            "meta": {"lastUpdated": "2026-11-20T07:50:00Z"},
            "identifier": [{"system": "https://ehr.example.org/mrn", "value": "MRN-" + self.pid.upper()}],
            "active": True,
            "name": [{"use": "official", "family": "Testpatient", "given": [given]}],
            "gender": gender,
        }
        if birth_date:
            p["birthDate"] = birth_date
        if extra:
            p.update(extra)
        return p

    # -------------------------------------------------------------- Condition
    def condition(self, cid, system, code, display, *, clinical="active", verification="confirmed",
                  category="problem-list-item", onset=None, recorded=None, abatement=None,
                  body_sites=None, severity=None, text=None, encounter=None):
        c = {"resourceType": "Condition", "id": cid}
        if clinical:
            c["clinicalStatus"] = cc(CLIN, clinical)
        if verification:
            c["verificationStatus"] = cc(VER, verification)
        c["category"] = [cc(CCAT, category, {"problem-list-item": "Problem List Item",
                                             "encounter-diagnosis": "Encounter Diagnosis"}[category])]
        if severity:
            c["severity"] = cc(SCT, severity[0], severity[1])
        c["code"] = cc(system, code, display, text or display)
        if body_sites:
            c["bodySite"] = body_sites
        c["subject"] = self.subject
        if encounter:
            c["encounter"] = {"reference": f"Encounter/{encounter}"}
        if onset:
            c["onsetDateTime"] = onset
        if abatement:
            c["abatementDateTime"] = abatement
        if recorded:
            c["recordedDate"] = recorded
        return c

    def icd(self, cid, code, display, **kw):
        return self.condition(cid, ICD, code, display, **kw)

    @staticmethod
    def sites(veins=(), side=None, combined=False):
        """bodySite list: one entry per vein, laterality as a separate entry (or a second coding)."""
        out = []
        for v in veins:
            code, disp = VEINS[v]
            out.append({"coding": [coding(SCT, code, disp)], "text": disp})
        if side:
            code, disp = SIDES[side]
            if combined and out:
                for e in out:
                    e["coding"].append(coding(SCT, code, disp))
                    e["text"] = f"{disp} {e['text'].lower()}"
            else:
                out.append({"coding": [coding(SCT, code, disp)], "text": disp})
        return out

    def dvt(self, code, display, veins=(), side=None, *, cid="dvt-1", onset="2026-11-19",
            recorded="2026-11-20T09:50:00Z", clinical="active", verification="confirmed",
            severity=None, encounter="enc-ed", system=ICD, combined=False):
        return self.condition(cid, system, code, display, clinical=clinical, verification=verification,
                              category="encounter-diagnosis", onset=onset, recorded=recorded,
                              body_sites=self.sites(veins, side, combined) or None,
                              severity=severity, encounter=encounter)

    # ------------------------------------------------------------ Observation
    def obs(self, oid, code_cc, effective, *, category="laboratory", status="final", value=None,
            interpretation=None, ref_high=None, based_on=None, extra=None):
        o = {"resourceType": "Observation", "id": oid}
        if status:
            o["status"] = status
        if based_on:
            o["basedOn"] = [{"reference": based_on}]
        o["category"] = [cc(OCAT, category, {"laboratory": "Laboratory", "imaging": "Imaging",
                                             "vital-signs": "Vital Signs", "survey": "Survey"}[category])]
        if code_cc:
            o["code"] = code_cc
        o["subject"] = self.subject
        o["effectiveDateTime"] = effective
        if value:
            o.update(value)
        if interpretation:
            o["interpretation"] = [cc(INTERP, interpretation, {"H": "High", "N": "Normal", "L": "Low"}[interpretation])]
        if ref_high:
            o["referenceRange"] = [{"high": ref_high}]
        if extra:
            o.update(extra)
        return o

    def lab(self, oid, loinc, display, value, unit, ucum=None, effective="2026-11-20T08:30:00Z", **kw):
        return self.obs(oid, cc(LOINC, loinc, display, display), effective,
                        value={"valueQuantity": qty(value, unit, ucum)}, **kw)

    def ddimer_feu(self, value, unit="mg/L", ucum="mg/L", interp=None, ref_high=None, oid="lab-ddimer",
                   effective="2026-11-20T08:30:00Z", loinc="48065-7"):
        return self.lab(oid, loinc, "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma", value, unit, ucum,
                        effective, interpretation=interp, ref_high=ref_high)

    def ddimer_ddu(self, value, interp=None, oid="lab-ddimer", effective="2026-11-20T08:30:00Z"):
        return self.lab(oid, "48066-5", "Fibrin D-dimer DDU [Mass/volume] in Platelet poor plasma", value,
                        "ng/mL DDU", "ng/mL", effective, interpretation=interp)

    def egfr(self, value, effective="2026-11-20T08:30:00Z", oid="lab-egfr"):
        return self.lab(oid, "98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in "
                        "Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)", value,
                        "mL/min/1.73m2", "mL/min/{1.73_m2}", effective)

    def crcl(self, value, effective="2026-11-20T08:30:00Z", oid="lab-crcl"):
        return self.lab(oid, "35591-7", "Creatinine renal clearance predicted by Cockcroft-Gault formula",
                        value, "mL/min", "mL/min", effective)

    def platelets(self, value, unit="10*3/uL", effective="2026-11-20T08:30:00Z", oid="lab-plt"):
        return self.lab(oid, "777-3", "Platelets [#/volume] in Blood by Automated count", value, unit, unit,
                        effective)

    def hemoglobin(self, value, unit="g/dL", effective="2026-11-20T08:30:00Z", oid="lab-hgb"):
        return self.lab(oid, "718-7", "Hemoglobin [Mass/volume] in Blood", value, unit, unit, effective)

    def weight(self, value, unit="kg", effective="2026-11-20T07:55:00Z", oid="vs-weight"):
        return self.obs(oid, cc(LOINC, "29463-7", "Body weight", "Body weight"), effective,
                        category="vital-signs", value={"valueQuantity": qty(value, unit, unit)})

    def pain(self, score, effective="2026-11-20T08:00:00Z", oid="obs-pain"):
        return self.obs(oid, cc(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                                "Pain score"), effective, category="survey",
                        value={"valueQuantity": qty(score, "{score}", "{score}")})

    def baseline(self, *, egfr=88, plt=246, hgb=13.9, weight=(78, "kg"), when="2026-11-20T08:30:00Z"):
        out = []
        if egfr is not None:
            out.append(self.egfr(egfr, when))
        if plt is not None:
            out.append(self.platelets(plt, effective=when))
        if hgb is not None:
            out.append(self.hemoglobin(hgb, effective=when))
        if weight is not None:
            out.append(self.weight(weight[0], weight[1]))
        return out

    def ultrasound(self, *, length=None, diameter=None, veins=None, named=(), distance=None, near=None,
                   extends=False, effective="2026-11-20T09:20:00Z", based_on="ServiceRequest/sr-duplex-dx",
                   side=None):
        """Duplex findings, one Observation per finding (lengths as (value, unit))."""
        out = []

        def f(fid, code, display, value):
            o = self.obs(f"us-{fid}", cc(USF, code, display, display), effective, category="imaging",
                         value=value, based_on=based_on)
            if side:
                o["bodySite"] = cc(SCT, SIDES[side][0], SIDES[side][1])
            out.append(o)

        if length is not None:
            f("length", "thrombus-length", "Thrombus length", {"valueQuantity": qty(length[0], length[1])})
        if diameter is not None:
            f("diameter", "thrombus-diameter", "Maximum thrombus diameter",
              {"valueQuantity": qty(diameter[0], diameter[1])})
        if veins is not None:
            f("veins", "veins-involved", "Number of calf veins involved", {"valueInteger": veins})
        for i, v in enumerate(named, 1):
            code, disp = VEINS[v]
            f(f"vein-{i}", "vein-involved", "Vein involved", {"valueCodeableConcept": cc(SCT, code, disp, disp)})
        if distance is not None:
            f("distance", "distance-to-proximal-veins", "Distance from thrombus to popliteal vein",
              {"valueQuantity": qty(distance[0], distance[1])})
        if near is not None:
            f("near", "near-proximal-veins", "Thrombus near proximal veins", {"valueBoolean": near})
        if extends is not None:
            f("extends", "extends-to-proximal-veins", "Thrombus extends into proximal veins",
              {"valueBoolean": extends})
        return out

    # -------------------------------------------------------------- Encounter
    def encounter(self, eid, cls, status, start, end=None, reason=None):
        disp = {"EMER": "emergency", "AMB": "ambulatory", "IMP": "inpatient encounter",
                "OBSENC": "observation encounter", "ACUTE": "inpatient acute"}[cls]
        e = {"resourceType": "Encounter", "id": eid, "status": status, "class": coding(ACT, cls, disp),
             "subject": self.subject, "period": {"start": start}}
        if end:
            e["period"]["end"] = end
        if reason:
            e["reasonCode"] = [cc(ICD, reason[0], reason[1], reason[1])]
        return e

    def ed(self, start="2026-11-20T07:45:00Z"):
        return self.encounter("enc-ed", "EMER", "in-progress", start, reason=("M79.606", "Pain in leg, unspecified"))

    def old_visit(self, eid="enc-pcp-2026", start="2026-03-11T14:00:00Z"):
        end = start[:11] + "14:30:00Z"
        return self.encounter(eid, "AMB", "finished", start, end)

    # -------------------------------------------------------------- Procedure
    def procedure(self, prid, code, display, performed, *, surgical=True, status="completed", system=CPT):
        p = {"resourceType": "Procedure", "id": prid, "status": status}
        if surgical:
            p["category"] = cc(SCT, "387713003", "Surgical procedure")
        else:
            p["category"] = cc(SCT, "103693007", "Diagnostic procedure")
        p["code"] = cc(system, code, display, display)
        p["subject"] = self.subject
        p["performedDateTime"] = performed
        return p

    def duplex_procedure(self, when="2026-11-20T09:20:00Z"):
        return self.procedure("proc-duplex", "93971", "Duplex scan of extremity veins including responses to "
                              "compression and other maneuvers; unilateral or limited study", when, surgical=False)

    # ------------------------------------------------------ MedicationRequest
    def med(self, mid, drug, text, *, status="active", intent="order", dose=None, freq=None, period=1,
            period_unit="d", bounds=None, authored="2026-11-20T11:45:00Z", reason_ref=None, reason_code=None,
            dosage_text=None, route=None, supply=None, repeats=None, extra_codings=()):
        m = {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": intent}
        codings = [coding(RX, DRUGS[drug], drug)] + list(extra_codings)
        m["medicationCodeableConcept"] = {"coding": codings, "text": text}
        m["subject"] = self.subject
        m["authoredOn"] = authored
        if reason_code:
            m["reasonCode"] = [cc(ICD, reason_code[0], reason_code[1], reason_code[1])]
        if reason_ref:
            m["reasonReference"] = [{"reference": reason_ref}]
        d = {}
        if dosage_text:
            d["text"] = dosage_text
        rep = {}
        if bounds:
            unit = {"d": "days", "mo": "months", "wk": "weeks"}[bounds[1]]
            rep["boundsDuration"] = {"value": bounds[0], "unit": unit, "system": UCUM, "code": bounds[1]}
        if freq:
            rep.update({"frequency": freq, "period": period, "periodUnit": period_unit})
        if rep:
            d["timing"] = {"repeat": rep}
        if route:
            d["route"] = cc(SCT, *route)
        if dose:
            d["doseAndRate"] = [{"doseQuantity": qty(dose[0], dose[1], dose[1])}]
        if d:
            m["dosageInstruction"] = [d]
        if supply:
            dr = {"expectedSupplyDuration": {"value": supply, "unit": "days", "system": UCUM, "code": "d"}}
            if repeats is not None:
                dr["numberOfRepeatsAllowed"] = repeats
            m["dispenseRequest"] = dr
        return m

    ORAL = ("26643006", "Oral route")
    SUBCUT = ("34206005", "Subcutaneous route")

    # Draft anticoagulant regimens as a clinician would pick them from an order set.
    def draft_apixaban(self, mid="draft-1", bounds=(3, "mo"), **kw):
        kw.setdefault("reason_ref", "Condition/dvt-1")
        return self.med(mid, "apixaban", "apixaban 5 mg oral tablet", status="draft", dose=(10, "mg"), freq=2,
                        bounds=bounds, route=self.ORAL,
                        dosage_text="10 mg twice daily for 7 days, then 5 mg twice daily", **kw)

    def draft_rivaroxaban(self, mid="draft-1", bounds=(3, "mo"), **kw):
        kw.setdefault("reason_ref", "Condition/dvt-1")
        return self.med(mid, "rivaroxaban", "rivaroxaban 15 mg oral tablet", status="draft", dose=(15, "mg"),
                        freq=2, bounds=bounds, route=self.ORAL,
                        dosage_text="15 mg twice daily with food for 21 days, then 20 mg once daily with food",
                        **kw)

    def draft_enoxaparin(self, mid="draft-1", mg=80, freq=2, bounds=None, **kw):
        kw.setdefault("reason_ref", "Condition/dvt-1")
        return self.med(mid, "enoxaparin", "enoxaparin 100 mg/mL injectable solution", status="draft",
                        dose=(mg, "mg"), freq=freq, bounds=bounds, route=self.SUBCUT,
                        dosage_text=f"{mg} mg subcutaneously every {24 // freq} hours", **kw)

    def draft_warfarin(self, mid="draft-1", bounds=(3, "mo"), **kw):
        kw.setdefault("reason_ref", "Condition/dvt-1")
        return self.med(mid, "warfarin", "warfarin sodium 5 mg oral tablet", status="draft", dose=(5, "mg"),
                        freq=1, bounds=bounds, route=self.ORAL,
                        dosage_text="5 mg once daily; adjust to INR 2-3", **kw)

    def draft_acetaminophen(self, mid="draft-1"):
        return self.med(mid, "acetaminophen", "acetaminophen 325 mg oral tablet", status="draft",
                        dose=(650, "mg"), freq=4, route=self.ORAL,
                        dosage_text="650 mg every 6 hours as needed for pain (max 3 g/day)")

    # --------------------------------------------------------- ServiceRequest
    def lab_order(self, sid, loinc, display, status="draft"):
        return {"resourceType": "ServiceRequest", "id": sid, "status": status, "intent": "order",
                "category": [cc(SCT, "108252007", "Laboratory procedure")],
                "code": cc(LOINC, loinc, display, display), "subject": self.subject,
                "authoredOn": "2026-11-20T11:40:00Z"}

    def cbc_order(self, sid="draft-lab"):
        return self.lab_order(sid, "58410-2", "CBC panel - Blood by Automated count")

    def duplex_order(self, sid, side, *, status="draft", occurrence=None, authored="2026-11-20T11:40:00Z",
                     reason_ref="Condition/dvt-1"):
        s = {"resourceType": "ServiceRequest", "id": sid, "status": status, "intent": "order",
             "category": [cc(SCT, "363679005", "Imaging")],
             "code": {"coding": [coding(LOINC, "30881-7", "US Doppler Lower extremity vein"),
                                 coding(CPT, "93971", "Duplex scan of extremity veins; unilateral or limited study")],
                      "text": "Complete venous duplex ultrasound, lower limb (inguinal ligament to ankle, including calf veins)"},
             "subject": self.subject}
        if occurrence:
            s["occurrenceDateTime"] = occurrence
        s["authoredOn"] = authored
        if reason_ref:
            s["reasonReference"] = [{"reference": reason_ref}]
        if side:
            s["bodySite"] = [cc(SCT, SIDES[side][0], SIDES[side][1])]
        return s


def bundle(resources, rtype, pid, extra_entries=()):
    """A searchset Bundle as a FHIR server returns it."""
    b = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
         "link": [{"relation": "self", "url": f"{FHIR}/{rtype}?patient={pid}"}]}
    entries = [{"fullUrl": f"{FHIR}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in resources]
    entries += list(extra_entries)
    if entries:
        b["entry"] = entries
    return b


def hook_uuid(name):
    rng = random.Random("hookInstance:" + name)
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))

#!/usr/bin/env python3
"""The checks behind deploy/validate.sh (run it, not this file: it builds the kustomizations and
provides the virtualenv with kubernetes-validate and PyYAML this script imports).

  validate.py objects FILE --name NAME [--k8s-version V ...] [--namespace NS] [--no-refs]
      Every object of FILE (a `kustomize build` output, or a plain manifest) through
      `kubernetes-validate --strict` for each Kubernetes version. Kinds from CRDs that
      kubernetes-validate has no schema for (CRD_KINDS) are skipped with a message; any other kind
      without a schema is an error (the tool itself only warns). Then the cross-object references
      a schema cannot see (selectors, names, ports, namespaces, limits that must agree).

  validate.py dockerfile REPO_ROOT
      deploy/Dockerfile against the repository: COPY sources exist and pass the build-context
      filter, the binary is the release build of Cargo.toml's [[bin]], ports and entrypoint agree.

Exit status 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

NAMESPACE = "distal-dvt-cds"

# (apiVersion, kind) from CustomResourceDefinitions: kubernetes-validate ships only the built-in
# Kubernetes schemas, so these cannot be schema-checked here. They still get the reference checks.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def fail_lines(errors: list[str], prefix: str) -> int:
    for e in errors:
        print(f"ERROR {prefix}: {e}")
    return 1 if errors else 0


def load_objects(path: Path) -> list[dict]:
    with path.open() as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        if not isinstance(d, dict):
            raise SystemExit(f"ERROR {path}: a YAML document is not a mapping")
    return docs


def ref(o: dict) -> str:
    return f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"


# ---- kubernetes-validate ------------------------------------------------------------------------


def schema_validate(objs: list[dict], name: str, versions: list[str], kv: str) -> list[str]:
    errors: list[str] = []
    checked = []
    for o in objs:
        if (o.get("apiVersion"), o.get("kind")) in CRD_KINDS:
            print(
                f"SKIP  {name}: {ref(o)} ({o['apiVersion']}) is a CRD kind: kubernetes-validate "
                "has no schema for it; reference checks only"
            )
        else:
            checked.append(o)
    if not checked:
        return errors
    with tempfile.TemporaryDirectory() as tmp:
        for i, o in enumerate(checked):
            # One file per object so that every line of the tool's output names its object.
            fname = Path(tmp) / f"{i:02d}-{o['kind']}-{o['metadata']['name']}.yaml"
            fname.write_text(yaml.safe_dump(o, sort_keys=False))
        files = sorted(str(p) for p in Path(tmp).iterdir())
        for version in versions:
            proc = subprocess.run(
                [kv, "--strict", "--kubernetes-version", version, *files],
                capture_output=True,
                text=True,
            )
            out = (proc.stdout + proc.stderr).strip().splitlines()
            bad = [
                line.replace(tmp + "/", "")
                for line in out
                if not line.startswith("INFO ")
            ]
            # WARN = "Couldn't find schema": an unknown kind or apiVersion (a typo, a removed API).
            errors += [f"kubernetes-validate {version}: {line}" for line in bad]
            if proc.returncode != 0 and not bad:
                errors.append(f"kubernetes-validate {version}: exit status {proc.returncode}")
            passed = sum(1 for line in out if line.startswith("INFO ") and " passed " in line)
            if passed != len(checked):
                errors.append(
                    f"kubernetes-validate {version}: {passed} of {len(checked)} objects passed"
                )
            else:
                print(
                    f"OK    {name}: kubernetes-validate --strict -k {version}: "
                    f"{passed} objects valid ({', '.join(ref(o) for o in checked)})"
                )
    return errors


# ---- references between objects ----------------------------------------------------------------


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """matchLabels only (all this project uses); an expression-based selector is not accepted."""
    if not selector:
        return False
    if set(selector) - {"matchLabels"}:
        return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def reference_checks(objs: list[dict], namespace: str) -> list[str]:
    errors: list[str] = []
    by_kind: dict[str, dict[str, dict]] = {}
    for o in objs:
        for key in ("apiVersion", "kind"):
            if not o.get(key):
                errors.append(f"an object has no {key}: {str(o)[:80]}")
        name = o.get("metadata", {}).get("name")
        if not name:
            errors.append(f"{o.get('kind')} without metadata.name")
            continue
        kind = o["kind"]
        if name in by_kind.setdefault(kind, {}):
            errors.append(f"{kind}/{name} is defined twice")
        by_kind[kind][name] = o
        ns = o["metadata"].get("namespace")
        if kind in CLUSTER_SCOPED:
            if ns:
                errors.append(f"{kind}/{name} is cluster-scoped but has namespace {ns}")
        elif ns != namespace:
            errors.append(f"{kind}/{name}: namespace is {ns!r}, expected {namespace!r}")

    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    services = by_kind.get("Service", {})
    deployments = by_kind.get("Deployment", {})

    env_values: dict[str, str] = {}
    for dname, d in deployments.items():
        where = f"Deployment/{dname}"
        spec = d["spec"]
        tmpl = spec["template"]
        pod_labels = tmpl["metadata"].get("labels", {})
        pod = tmpl["spec"]
        if not selector_matches(spec.get("selector"), pod_labels):
            errors.append(f"{where}: spec.selector does not match the pod template labels")
        for c in pod.get("topologySpreadConstraints", []):
            if not selector_matches(c.get("labelSelector"), pod_labels):
                errors.append(f"{where}: a topologySpreadConstraint does not select its own pods")
        sa = pod.get("serviceAccountName")
        if sa and sa not in by_kind.get("ServiceAccount", {}):
            errors.append(f"{where}: serviceAccountName {sa} is not defined")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            cm = v.get("configMap")
            if cm and cm["name"] not in configmaps and not cm.get("optional"):
                errors.append(f"{where}: volume {v['name']} uses ConfigMap {cm['name']}, not defined")
        for c in pod["containers"]:
            cwhere = f"{where} container {c['name']}"
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for src in c.get("envFrom", []):
                cmr = src.get("configMapRef")
                if cmr:
                    if cmr["name"] in configmaps:
                        env_values.update(configmaps[cmr["name"]].get("data", {}))
                    elif not cmr.get("optional"):
                        errors.append(f"{cwhere}: envFrom ConfigMap {cmr['name']} is not defined")
            for e in c.get("env", []):
                if "value" in e:
                    env_values[e["name"]] = e["value"]
                skr = e.get("valueFrom", {}).get("secretKeyRef")
                if skr and skr["name"] not in secrets and not skr.get("optional"):
                    errors.append(
                        f"{cwhere}: env {e['name']} needs Secret {skr['name']}, which no "
                        "kustomization creates: it must be `optional: true`"
                    )
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{cwhere}: volumeMount {m['name']} has no volume")
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{cwhere}: {probe} port {port} is not a named container port")
            # The listen address and the declared port.
            bind = env_values.get("DVT_CDS_BIND")
            if bind is not None:
                bind_port = int(bind.rsplit(":", 1)[1])
                if bind_port not in ports.values():
                    errors.append(
                        f"{cwhere}: DVT_CDS_BIND={bind} but the container ports are "
                        f"{sorted(ports.values())}"
                    )
                if prom := tmpl["metadata"].get("annotations", {}).get("prometheus.io/port"):
                    if int(prom) != bind_port:
                        errors.append(f"{where}: prometheus.io/port {prom} != port of DVT_CDS_BIND")
            # The config directory and the mount that overrides it.
            cdir = env_values.get("DVT_CDS_CONFIG_DIR")
            for m in c.get("volumeMounts", []):
                vol = volumes.get(m["name"], {})
                if "configMap" in vol and cdir and m["mountPath"].rstrip("/") != cdir.rstrip("/"):
                    errors.append(
                        f"{cwhere}: ConfigMap volume mounted at {m['mountPath']}, but "
                        f"DVT_CDS_CONFIG_DIR={cdir}"
                    )
            # Shutdown: preStop sleep + the service's drain time must fit in the grace period.
            grace = pod.get("terminationGracePeriodSeconds", 30)
            sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            drain = int(env_values.get("DVT_CDS_SHUTDOWN_TIMEOUT_SECS", "30"))
            if sleep + drain >= grace:
                errors.append(
                    f"{where}: preStop sleep {sleep}s + DVT_CDS_SHUTDOWN_TIMEOUT_SECS {drain}s "
                    f"does not fit in terminationGracePeriodSeconds {grace}s"
                )

    # StatefulSets (components/redis-replay-store: the example Redis) are workloads too.
    statefulsets = by_kind.get("StatefulSet", {})
    for n, st in statefulsets.items():
        labels = st["spec"]["template"]["metadata"].get("labels", {})
        if not selector_matches(st["spec"].get("selector"), labels):
            errors.append(f"StatefulSet/{n}: spec.selector does not match the pod template labels")
        governing = services.get(st["spec"].get("serviceName"))
        if governing is None:
            errors.append(f"StatefulSet/{n}: serviceName {st['spec'].get('serviceName')} is not defined")
        elif governing["spec"].get("clusterIP") != "None":
            errors.append(f"StatefulSet/{n}: its governing Service must be headless (clusterIP: None)")
    workloads = list(deployments.values()) + list(statefulsets.values())

    def pods_selected(selector: dict | None, among: list | None = None) -> bool:
        return any(
            selector_matches(selector, d["spec"]["template"]["metadata"].get("labels", {}))
            for d in (workloads if among is None else among)
        )

    def container_port_names() -> set:
        return {
            p.get("name")
            for d in workloads
            for c in d["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }

    # DVT_CDS_REPLAY_STORE=redis://<service>:<port>/<db> names a Service of these objects (when its
    # host is a bare Service name or <service>.<namespace>.svc...); a managed Redis is not checked.
    store = env_values.get("DVT_CDS_REPLAY_STORE", "memory")
    if m := re.fullmatch(r"rediss?://(?:[^@/]*@)?([a-z0-9-]+)(\.[a-z0-9.-]*svc[a-z0-9.-]*)?(?::(\d+))?(/\d*)?", store):
        host, port = m.group(1), int(m.group(3) or 6379)
        if host in services:
            if port not in {p.get("port") for p in services[host]["spec"].get("ports", [])}:
                errors.append(f"DVT_CDS_REPLAY_STORE: port {port} is not a port of Service/{host}")
        elif m.group(2) or host.startswith("distal-dvt-cds"):
            errors.append(f"DVT_CDS_REPLAY_STORE: Service {host} is not defined")
    elif store != "memory" and not store.startswith(("redis://", "rediss://")):
        errors.append(f"DVT_CDS_REPLAY_STORE={store!r}: expected memory or a redis:// URL")

    for sname, s in services.items():
        sel = s["spec"].get("selector")
        if not pods_selected({"matchLabels": sel} if sel else None):
            errors.append(f"Service/{sname}: its selector matches no workload's pods")
        for p in s["spec"].get("ports", []):
            tp = p.get("targetPort")
            if isinstance(tp, str) and tp not in container_port_names():
                errors.append(f"Service/{sname}: targetPort {tp} is not a container port name")
    for kind in ("PodDisruptionBudget",):
        for n, o in by_kind.get(kind, {}).items():
            if not pods_selected(o["spec"].get("selector")):
                errors.append(f"{kind}/{n}: its selector matches no Deployment's pods")
    for n, o in by_kind.get("NetworkPolicy", {}).items():
        if not pods_selected(o["spec"].get("podSelector")):
            errors.append(f"NetworkPolicy/{n}: podSelector matches no workload's pods")
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            for rule in o["spec"].get(direction, []):
                for peer in rule.get(peers, []):
                    if "podSelector" in peer and "namespaceSelector" not in peer \
                            and not pods_selected(peer["podSelector"]):
                        errors.append(f"NetworkPolicy/{n}: a {direction} podSelector matches no workload's pods")
        bind = env_values.get("DVT_CDS_BIND")
        # The listen port applies to policies of the service's own pods (the Deployment).
        if bind and pods_selected(o["spec"].get("podSelector"), list(deployments.values())):
            port = int(bind.rsplit(":", 1)[1])
            for rule in o["spec"].get("ingress", []):
                for p in rule.get("ports", []):
                    if p.get("port") not in (port, "http"):
                        errors.append(f"NetworkPolicy/{n}: ingress port {p.get('port')} != {port}")
    for n, o in by_kind.get("HorizontalPodAutoscaler", {}).items():
        t = o["spec"]["scaleTargetRef"]
        if t["name"] not in by_kind.get(t["kind"], {}):
            errors.append(f"HorizontalPodAutoscaler/{n}: target {t['kind']}/{t['name']} not defined")
    for n, o in by_kind.get("Ingress", {}).items():
        for rule in o["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                svc = p["backend"]["service"]
                if svc["name"] not in services:
                    errors.append(f"Ingress/{n}: backend Service {svc['name']} not defined")
                    continue
                names = {sp.get("name") for sp in services[svc["name"]]["spec"]["ports"]}
                nums = {sp.get("port") for sp in services[svc["name"]]["spec"]["ports"]}
                port = svc["port"]
                if port.get("name") not in names and port.get("number") not in nums:
                    errors.append(f"Ingress/{n}: backend port {port} is not a port of the Service")
        tls_hosts = {h for t in o["spec"].get("tls", []) for h in t.get("hosts", [])}
        for rule in o["spec"].get("rules", []):
            if rule.get("host") and rule["host"] not in tls_hosts:
                errors.append(f"Ingress/{n}: host {rule['host']} has no TLS entry")
        size = o["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/proxy-body-size")
        limit = env_values.get("DVT_CDS_MAX_BODY_BYTES")
        if size and limit:
            m = re.fullmatch(r"(\d+)([kKmMgG]?)", size)
            mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
            if not m or int(m.group(1)) * mult[m.group(2).lower()] != int(limit):
                errors.append(
                    f"Ingress/{n}: proxy-body-size {size} != DVT_CDS_MAX_BODY_BYTES {limit}"
                )
        public = env_values.get("DVT_CDS_PUBLIC_URL", "")
        hosts = {r.get("host") for r in o["spec"].get("rules", [])}
        if public and re.sub(r"^https?://([^/:]+).*$", r"\1", public) not in hosts:
            errors.append(f"Ingress/{n}: no rule for the host of DVT_CDS_PUBLIC_URL={public}")
        if public and not public.startswith("https://"):
            errors.append(f"DVT_CDS_PUBLIC_URL={public}: EHRs call CDS services over HTTPS only")
    for n, o in by_kind.get("ServiceMonitor", {}).items():
        matched = [
            s for s in services.values()
            if selector_matches(o["spec"].get("selector"), s["metadata"].get("labels", {}))
        ]
        if not matched:
            errors.append(f"ServiceMonitor/{n}: its selector matches no Service's labels")
        for ep in o["spec"].get("endpoints", []):
            if not any(ep.get("port") in {p.get("name") for p in s["spec"]["ports"]} for s in matched):
                errors.append(f"ServiceMonitor/{n}: endpoint port {ep.get('port')} is not a Service port name")
    return errors


def cmd_objects(args: argparse.Namespace) -> int:
    path = Path(args.file)
    objs = load_objects(path)
    if not objs:
        print(f"ERROR {args.name}: no objects")
        return 1
    errors = schema_validate(objs, args.name, args.k8s_version, args.kubernetes_validate)
    if not args.no_refs:
        try:
            ref_errors = reference_checks(objs, args.namespace)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            # A malformed object (the schema errors above say which): report, do not crash.
            ref_errors = [f"reference checks stopped at a malformed object: {type(e).__name__} {e}"]
        if not ref_errors:
            print(f"OK    {args.name}: references between the {len(objs)} objects agree")
        errors += ref_errors
    return fail_lines(errors, args.name)


# ---- Dockerfile ----------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        parts = buf.strip().split(None, 1)
        out.append((parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf = ""
    return out


def ignored_by(patterns: list[str], path: str) -> bool:
    """.dockerignore semantics for the patterns this project uses (last match wins)."""
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        candidates = [path] + [str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts))]
        if any(fnmatch.fnmatch(c, p) or fnmatch.fnmatch(c, p.replace("**/", "")) for c in candidates):
            ignored = not neg
    return ignored


def cmd_dockerfile(args: argparse.Namespace) -> int:
    root = Path(args.repo_root)
    dockerfile = root / "deploy" / "Dockerfile"
    errors: list[str] = []
    cargo = tomllib.loads((root / "Cargo.toml").read_text())
    bins = [b["name"] for b in cargo.get("bin", [])] or [cargo["package"]["name"]]
    bin_name = "distal-dvt-cds"
    if bin_name not in bins:
        errors.append(f"Cargo.toml has no [[bin]] {bin_name} (bins: {bins})")
    ignore_file = root / "deploy" / "Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore_file.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instr = dockerfile_instructions(dockerfile.read_text())
    stages = [a for i, a in instr if i == "FROM"]
    if len(stages) < 2:
        errors.append("not a multi-stage build")
    builds = [a for i, a in instr if i == "RUN" and "cargo build" in a]
    if not any("--release" in b and "--locked" in b for b in builds):
        errors.append("no `cargo build --release --locked`")
    copied_binary = None
    for i, a in instr:
        if i != "COPY":
            continue
        words = a.split()
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        srcs, dest = paths[:-1], paths[-1]
        if any(f.startswith("--from=") for f in flags):
            for s in srcs:
                if s.startswith("/src/target/release/"):
                    copied_binary = (s.rsplit("/", 1)[1], dest)
            continue
        for s in srcs:
            rel = s.rstrip("/")
            if not (root / rel).exists():
                errors.append(f"COPY {s}: no such path in the repository")
            elif ignored_by(patterns, rel):
                errors.append(f"COPY {s}: excluded from the build context by {ignore_file.name}")
    # `cargo fetch` runs on the manifest alone (the dependency layer). Cargo refuses to load a
    # manifest whose explicitly declared target has no `path` and no file at the inferred place, so
    # such a file must be copied before the first cargo command (or the target given a `path`).
    first_cargo = next((n for n, (i, a) in enumerate(instr) if i == "RUN" and "cargo " in a), None)
    early = set()
    for i, a in instr[:first_cargo]:
        if i == "COPY" and not any(w.startswith("--from=") for w in a.split()):
            early.update(w.rstrip("/") for w in a.split()[:-1] if not w.startswith("--"))
    inferred = {"bin": "src/bin", "bench": "benches", "test": "tests", "example": "examples"}
    needed = []
    if "lib" in cargo and "path" not in cargo["lib"]:
        needed.append(("lib", ["src/lib.rs"]))
    for kind, folder in inferred.items():
        for t in cargo.get(kind, []):
            if "path" not in t:
                needed.append((f"{kind} {t['name']}", [f"{folder}/{t['name']}.rs", f"{folder}/{t['name']}/main.rs"]
                               + (["src/main.rs"] if kind == "bin" else [])))
    for what, candidates in needed:
        covered = [c for c in candidates if (root / c).exists()
                   and any(c == e or c.startswith(e + "/") for e in early)]
        if not covered:
            errors.append(
                f"Cargo.toml declares [{what}] without `path`: cargo needs one of {candidates} "
                "before the `cargo fetch` layer; COPY it before that RUN (or give the target a path)"
            )
    if copied_binary is None:
        errors.append("the runtime stage copies no binary from /src/target/release/")
    else:
        name, dest = copied_binary
        if name != bin_name:
            errors.append(f"copies target/release/{name}, but the [[bin]] is {bin_name}")
        entry = [a for i, a in instr if i == "ENTRYPOINT"]
        if not entry or f'"{dest}"' not in entry[-1] or '"serve"' not in entry[-1]:
            errors.append(f"ENTRYPOINT is not [\"{dest}\", \"serve\"]: {entry}")
    envs = " ".join(a for i, a in instr if i == "ENV")
    bind = re.search(r"DVT_CDS_BIND=(\S+)", envs)
    expose = [a for i, a in instr if i == "EXPOSE"]
    if not bind or not bind.group(1).startswith("0.0.0.0:"):
        errors.append("ENV DVT_CDS_BIND must listen on 0.0.0.0 in a container")
    elif not expose or bind.group(1).rsplit(":", 1)[1] not in expose[-1].split("/")[0].split():
        errors.append(f"EXPOSE {expose} does not match DVT_CDS_BIND={bind.group(1)}")
    users = [a for i, a in instr if i == "USER"]
    if not users or users[-1].split(":")[0] not in ("65532", "nonroot"):
        errors.append(f"the runtime stage must run as nonroot (65532): USER {users}")
    if any(i == "HEALTHCHECK" for i, _ in instr):
        errors.append("HEALTHCHECK present: Kubernetes probes do that")
    if not errors:
        print(
            f"OK    Dockerfile: {len(stages)} stages; copies target/release/{bin_name} "
            f"(Cargo.toml [[bin]]); every COPY source exists and is in the build context; "
            f"USER {users[-1]}; EXPOSE {expose[-1]}"
        )
    return fail_lines(errors, "deploy/Dockerfile")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("objects")
    o.add_argument("file")
    o.add_argument("--name", required=True)
    o.add_argument("--k8s-version", action="append", required=True)
    o.add_argument("--namespace", default=NAMESPACE)
    o.add_argument("--no-refs", action="store_true")
    o.add_argument(
        "--kubernetes-validate",
        default=shutil.which("kubernetes-validate")
        or os.path.join(os.path.dirname(sys.executable), "kubernetes-validate"),
    )
    d = sub.add_parser("dockerfile")
    d.add_argument("repo_root")
    args = p.parse_args()
    return cmd_objects(args) if args.cmd == "objects" else cmd_dockerfile(args)


if __name__ == "__main__":
    sys.exit(main())

"""Offline checks of docker/: the manifests against the Kubernetes API schemas, and the facts
that tie the Dockerfile, compose file and manifests together.

Run by docker/validate.sh (which installs kubernetes-validate into a venv); by hand:
    python -m unittest discover -s docker/tests -v

Sources of truth:
- Kubernetes kinds: the JSON schemas that kubernetes-validate bundles (strict mode: unknown
  fields are errors), for the oldest and newest Kubernetes versions we claim.
- KServe kinds: kubernetes-validate has no schema for custom resources, so the KServe field
  lists below are transcribed from KServe's Go API types (pkg/apis/serving/v1beta1:
  ComponentExtensionSpec, PredictorSpec, PredictorExtensionSpec, ModelSpec;
  v1alpha1: ServingRuntimeSpec, ServingRuntimePodSpec); every embedded Kubernetes type
  (PodSpec, Container) is checked against the bundled strict schema.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
import unittest
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import yaml
from referencing import Registry, Resource

DOCKER = Path(__file__).resolve().parent.parent
ROOT = DOCKER.parent
K8S = DOCKER / "k8s"
KSERVE = DOCKER / "kserve"

# Oldest and newest Kubernetes versions the manifests must validate against.
K8S_VERSIONS = ["1.29.0", kv.latest_version()]


def load_all(path: Path) -> list[dict]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def k8s_resources() -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path, doc) for doc in load_all(path)]
    return out


def by_kind(kind: str, resources=None) -> dict:
    found = [doc for _, doc in (resources or k8s_resources()) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def strict_definition_validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for one bundled Kubernetes definition (e.g. io.k8s.api.core.v1.Container),
    strict: unknown fields are errors. Uses the latest bundled version."""
    version = kv.latest_version()
    defs = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    registry = Resource.from_contents(defs) @ Registry()
    schema = {"$schema": defs["$schema"], "$ref": f"{defs['$id']}#/$defs/{name}"}
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def strict_properties(name: str) -> set[str]:
    version = kv.latest_version()
    defs = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    return set(defs["$defs"][name]["properties"])


def errors_of(validator, instance) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


# --- Dockerfile facts -------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DOCKER / "Dockerfile").read_text()
    logical, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        logical.append(buf)
        buf = ""
    out = []
    for line in logical:
        instr, _, rest = line.partition(" ")
        out.append((instr.upper(), rest.strip()))
    return out


def dockerfile_user_id() -> int:
    users = [args for instr, args in dockerfile_instructions() if instr == "USER"]
    assert users, "the Dockerfile sets no USER"
    return int(users[-1].split(":")[0])


def dockerfile_port() -> int:
    exposes = [args for instr, args in dockerfile_instructions() if instr == "EXPOSE"]
    assert len(exposes) == 1, exposes
    return int(exposes[0].split("/")[0])


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        self.instrs = dockerfile_instructions()

    def test_base_images_are_build_arguments_with_public_defaults(self):
        args = dict(a.split("=", 1) for i, a in self.instrs if i == "ARG" and "=" in a)
        self.assertEqual(args.get("RUST_IMAGE"), "rust:1-bookworm")
        self.assertEqual(args.get("RUNTIME_IMAGE"), "debian:bookworm-slim")
        froms = [a for i, a in self.instrs if i == "FROM"]
        self.assertIn("${RUNTIME_IMAGE} AS runtime-base", froms)
        self.assertIn("${RUST_IMAGE} AS chef", froms)

    def test_stages_the_legacy_builder_can_target_cheaply(self):
        stages = [a.split(" AS ")[1] for i, a in self.instrs if i == "FROM"]
        # runtime-prebuilt must come before any compiling stage (the legacy builder builds
        # every earlier stage), and the full build's runtime must be the default (last).
        self.assertLess(stages.index("runtime-prebuilt"), stages.index("chef"))
        self.assertEqual(stages[-1], "runtime")
        self.assertEqual(len(stages), len(set(stages)))

    def test_entrypoint_is_exec_form(self):
        entry = [a for i, a in self.instrs if i == "ENTRYPOINT"]
        self.assertEqual(len(entry), 1)
        self.assertEqual(json.loads(entry[0]), ["/usr/local/bin/han-server"])

    def test_runtime_facts(self):
        env = " ".join(a for i, a in self.instrs if i == "ENV")
        self.assertIn("HAN_HOST=0.0.0.0", env)
        self.assertIn("HAN_MODELS_DIR=/models", env)
        self.assertIn("HAN_ZOO_DIR=/opt/han/weights", env)
        grace_ms = int(re.search(r"HAN_SHUTDOWN_GRACE_MS=(\d+)", env).group(1))
        self.assertLess(grace_ms, 10_000, "docker stop's default timeout (10 s) would cut the drain")
        self.assertIn('VOLUME ["/models"]', [f"{i} {a}" for i, a in self.instrs])
        self.assertEqual(dockerfile_port(), 8080)
        self.assertGreaterEqual(dockerfile_user_id(), 1000, "the image must not run as root")
        health = [a for i, a in self.instrs if i == "HEALTHCHECK"]
        self.assertEqual(len(health), 1)
        self.assertIn("/v2/health/live", health[0])
        cmd = json.loads(health[0].split("CMD", 1)[1])
        self.assertEqual(cmd[:2], ["bash", "-c"])

    def stage_copy_sources(self, stage: str) -> set[str]:
        """The build-context paths that COPY instructions (not --from) of `stage` take."""
        sources, current = set(), None
        for instr, args in self.instrs:
            if instr == "FROM":
                current = args.split(" AS ")[-1]
            elif instr == "COPY" and current == stage and "--from=" not in args:
                sources |= {a.rstrip("/") for a in shlex.split(args)[:-1] if not a.startswith("--")}
        return sources

    def test_builder_gets_every_workspace_member(self):
        members = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["members"]
        for stage in ("planner", "builder"):
            sources = self.stage_copy_sources(stage)
            self.assertLessEqual({"Cargo.toml", "Cargo.lock", *members}, sources, stage)

    def test_builder_gets_every_file_the_crates_include(self):
        # include_str!/include_bytes! may reach outside a crate (e.g. scripts/): such a
        # file must be copied into the build stage and not kept out by .dockerignore.
        sources = self.stage_copy_sources("builder")
        found = 0
        for rs in ROOT.glob("han-*/src/**/*.rs"):
            for rel in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', rs.read_text()):
                path = (rs.parent / rel).resolve().relative_to(ROOT).as_posix()
                found += 1
                with self.subTest(file=str(rs.relative_to(ROOT)), includes=path):
                    self.assertTrue(any(path == s or path.startswith(s + "/") for s in sources),
                                    f"{path} is not copied into the builder stage")
                    self.assertFalse(dockerignore_excludes(path), f".dockerignore keeps {path} out")
        self.assertGreater(found, 0)

    def test_no_syntax_directive(self):
        # `# syntax=` makes BuildKit pull a frontend image, which offline builds cannot.
        first = (DOCKER / "Dockerfile").read_text().splitlines()[0]
        self.assertNotRegex(first, r"^#\s*syntax=")


# --- .dockerignore ----------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's .dockerignore pattern syntax (Go filepath.Match plus `**`) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out = out[:-2] + "(?:.*/)?"
                i += 1
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(f"^{out}$")


def dockerignore_excludes(path: str) -> bool:
    """Whether the root .dockerignore keeps `path` out of the build context: the last
    pattern that matches the path or one of its parent folders wins."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        rx = _pattern_regex(pattern.strip("/"))
        if any(rx.match(p) for p in prefixes):
            excluded = not negate
    return excluded


class DockerignoreTest(unittest.TestCase):
    def test_build_outputs_data_and_venvs_stay_out(self):
        for path in [
            "target/release/deps/libcandle_core.rlib",
            "target/debug/han-server",
            "target/release/han-server",
            "data/mnist/train-images-idx3-ubyte",
            "bench-out/docker/rootfs/etc/passwd",
            ".venv/bin/python",
            ".git/HEAD",
            "runs/x/log.txt",
            "han-models/target/x",
            "tests-browser/node_modules/x/index.js",
        ]:
            self.assertTrue(dockerignore_excludes(path), path)

    def test_what_the_dockerfile_copies_goes_in(self):
        for path in [
            "Cargo.toml",
            "Cargo.lock",
            "han-core/src/lib.rs",
            "han-models/src/lib.rs",
            "han-server/src/main.rs",
            "weights/hannet-mnist/config.json",
            "target/docker/han-server",
        ]:
            self.assertFalse(dockerignore_excludes(path), path)


# --- Kubernetes -------------------------------------------------------------------------


class KubernetesSchemaTest(unittest.TestCase):
    def test_every_manifest_validates_strictly(self):
        resources = k8s_resources()
        self.assertEqual(
            {doc["kind"] for _, doc in resources},
            {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"},
        )
        for path, doc in resources:
            for version in K8S_VERSIONS:
                with self.subTest(file=path.name, kind=doc["kind"], version=version):
                    try:
                        kv.validate(doc, version, strict=True)
                    except kv.ValidationError as e:
                        self.fail(f"{'.'.join(map(str, e.path))}: {e.message}")

    def test_a_wrong_field_is_caught(self):
        # The check above could pass vacuously if strict validation were off.
        doc = by_kind("Deployment")
        broken = json.loads(json.dumps(doc))
        broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
        with self.assertRaises(kv.ValidationError):
            kv.validate(broken, K8S_VERSIONS[-1], strict=True)

    def test_kustomization_lists_every_manifest(self):
        kust = load_all(K8S / "kustomization.yaml")[0]
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        self.assertEqual(set(kust["resources"]), files)


class DeploymentTest(unittest.TestCase):
    def setUp(self):
        self.deploy = by_kind("Deployment")
        self.pod = self.deploy["spec"]["template"]["spec"]
        (self.container,) = self.pod["containers"]
        self.env = {e["name"]: e.get("value") for e in self.container["env"]}

    def test_probes_hit_the_health_routes_on_the_served_port(self):
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(list(ports.values()), [dockerfile_port()])
        self.assertEqual(int(self.env["HAN_PORT"]), dockerfile_port())
        c = self.container
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/v2/health/live")
        self.assertEqual(c["startupProbe"]["httpGet"]["path"], "/v2/health/live")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            self.assertIn(c[probe]["httpGet"]["port"], ports)

    def test_termination_grace_outlasts_prestop_and_drain(self):
        prestop = self.container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(prestop[0], "/bin/sleep")
        drain_s = int(self.env["HAN_SHUTDOWN_GRACE_MS"]) / 1000
        grace = self.pod["terminationGracePeriodSeconds"]
        self.assertGreater(grace, float(prestop[1]) + drain_s, "SIGKILL would cut the drain short")

    def test_runs_as_the_images_non_root_user(self):
        sc = self.pod["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertEqual(sc["runAsUser"], dockerfile_user_id())
        csc = self.container["securityContext"]
        self.assertFalse(csc["allowPrivilegeEscalation"])
        self.assertTrue(csc["readOnlyRootFilesystem"])
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])

    def test_resources_set_for_the_autoscaler(self):
        res = self.container["resources"]
        for key in ("cpu", "memory"):
            self.assertIn(key, res["requests"])
            self.assertIn(key, res["limits"])

    def test_service_and_autoscaler_point_at_the_deployment(self):
        labels = self.deploy["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(self.deploy["spec"]["selector"]["matchLabels"].items(), labels.items())
        svc = by_kind("Service")
        self.assertLessEqual(svc["spec"]["selector"].items(), labels.items())
        port_names = {p["name"] for p in self.container["ports"]}
        for p in svc["spec"]["ports"]:
            self.assertIn(p["targetPort"], port_names)
        hpa = by_kind("HorizontalPodAutoscaler")
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        ref = hpa["spec"]["scaleTargetRef"]
        self.assertEqual((ref["apiVersion"], ref["kind"], ref["name"]),
                         ("apps/v1", "Deployment", self.deploy["metadata"]["name"]))
        self.assertLessEqual(hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
        pdb = by_kind("PodDisruptionBudget")
        self.assertLessEqual(pdb["spec"]["selector"]["matchLabels"].items(), labels.items())
        self.assertLess(pdb["spec"]["minAvailable"], hpa["spec"]["minReplicas"],
                        "a PDB as large as the smallest replica count blocks node drains")


# --- KServe -----------------------------------------------------------------------------

# ComponentExtensionSpec (pkg/apis/serving/v1beta1/component.go), inlined in PredictorSpec.
KSERVE_EXTENSION_SCHEMA = {
    "type": "object",
    "properties": {
        "minReplicas": {"type": "integer", "minimum": 0},
        "maxReplicas": {"type": "integer", "minimum": 0},
        "scaleTarget": {"type": "integer"},
        "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
        "containerConcurrency": {"type": "integer", "minimum": 0},
        "timeout": {"type": "integer", "minimum": 1},
        "canaryTrafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
        "logger": {"type": "object"},
        "batcher": {"type": "object"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "deploymentStrategy": {"type": "object"},
    },
}
# The one-of predictor implementations of PredictorSpec besides the inline PodSpec.
KSERVE_PREDICTOR_IMPLS = {"sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
                          "huggingface", "pmml", "lightgbm", "paddle", "model"}
# ModelSpec = modelFormat + PredictorExtensionSpec (+ an inlined Container).
KSERVE_MODEL_SCHEMA = {
    "type": "object",
    "required": ["modelFormat"],
    "properties": {
        "modelFormat": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
            "additionalProperties": False,
        },
        "runtime": {"type": "string"},
        "storageUri": {"type": "string"},
        "runtimeVersion": {"type": "string"},
        "protocolVersion": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]},
        "storage": {"type": "object"},
    },
}
# ServingRuntimeSpec (pkg/apis/serving/v1alpha1/servingruntime_types.go).
KSERVE_RUNTIME_FIELDS = {"supportedModelFormats", "modelSizeRange", "disabled", "protocolVersions",
                         "multiModel", "grpcEndpoint", "httpDataEndpoint", "replicas",
                         "storageHelper", "builtInAdapter", "workerSpec"}
KSERVE_RUNTIME_POD_FIELDS = {"containers", "volumes", "nodeSelector", "affinity", "tolerations",
                             "labels", "annotations", "imagePullSecrets", "schedulerName",
                             "hostIPC", "dnsPolicy", "hostNetwork"}
KSERVE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class KServeTest(unittest.TestCase):
    def setUp(self):
        self.resources = [(p, d) for p in sorted(KSERVE.glob("*.yaml")) for d in load_all(p)]
        self.container_v = strict_definition_validator("io.k8s.api.core.v1.Container")
        self.podspec_v = strict_definition_validator("io.k8s.api.core.v1.PodSpec")
        self.meta_v = strict_definition_validator("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")

    def isvcs(self):
        return [(p, d) for p, d in self.resources if d["kind"] == "InferenceService"]

    def check_envelope(self, doc, api_version):
        self.assertEqual(doc["apiVersion"], api_version)
        self.assertEqual(set(doc) - {"apiVersion", "kind", "metadata", "spec"}, set())
        self.assertEqual(errors_of(self.meta_v, doc["metadata"]), [])
        self.assertRegex(doc["metadata"]["name"], KSERVE_NAME)

    def check_predictor(self, predictor):
        pod_fields = strict_properties("io.k8s.api.core.v1.PodSpec")
        ext_fields = set(KSERVE_EXTENSION_SCHEMA["properties"])
        unknown = set(predictor) - pod_fields - ext_fields - KSERVE_PREDICTOR_IMPLS - {"storageUris", "workerSpec"}
        self.assertEqual(unknown, set(), "fields KServe's PredictorSpec does not have")
        impls = [k for k in predictor if k in KSERVE_PREDICTOR_IMPLS]
        custom = any(c.get("name") == "kserve-container" for c in predictor.get("containers", []))
        self.assertEqual(len(impls) + custom, 1, "exactly one predictor implementation")
        ext = {k: v for k, v in predictor.items() if k in ext_fields}
        self.assertEqual(errors_of(jsonschema.Draft202012Validator(KSERVE_EXTENSION_SCHEMA), ext), [])
        if "minReplicas" in ext and "maxReplicas" in ext:
            self.assertLessEqual(ext["minReplicas"], ext["maxReplicas"])
        pod = {k: v for k, v in predictor.items() if k in pod_fields}
        if pod:
            pod.setdefault("containers", [])
            self.assertEqual(errors_of(self.podspec_v, pod), [])
        return impls, custom

    def check_server_container(self, c, knative=True):
        self.assertEqual(errors_of(self.container_v, c), [])
        self.assertEqual(c["name"], "kserve-container")
        self.assertEqual([p["containerPort"] for p in c["ports"]], [dockerfile_port()])
        if knative:  # Knative Serving: one port, named http1 or h2c; no lifecycle hooks
            self.assertIn(c["ports"][0]["name"], {"http1", "h2c"})
            self.assertNotIn("lifecycle", c)
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        self.assertEqual(int(env["HAN_PORT"]), dockerfile_port())
        self.assertEqual(env["HAN_HOST"], "0.0.0.0")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/v2/health/live")
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(c[probe]["httpGet"]["port"], dockerfile_port())
        return env

    def test_custom_v2_predictor(self):
        (path, isvc), = [(p, d) for p, d in self.isvcs() if p.name == "inferenceservice.yaml"]
        self.check_envelope(isvc, "serving.kserve.io/v1beta1")
        self.assertEqual(set(isvc["spec"]), {"predictor"})
        impls, custom = self.check_predictor(isvc["spec"]["predictor"])
        self.assertTrue(custom and not impls, "a custom predictor: containers, no framework")
        (c,) = isvc["spec"]["predictor"]["containers"]
        env = self.check_server_container(c)
        # KServe takes a custom container's protocol from PROTOCOL (CustomSpecProtocolEnvVarKey).
        self.assertEqual(env["PROTOCOL"], "v2")
        sc = isvc["spec"]["predictor"]["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertEqual(sc["runAsUser"], dockerfile_user_id())

    def test_serving_runtime_and_its_inference_service(self):
        runtimes = [d for _, d in self.resources if d["kind"] == "ServingRuntime"]
        self.assertEqual(len(runtimes), 1)
        rt = runtimes[0]
        self.check_envelope(rt, "serving.kserve.io/v1alpha1")
        unknown = set(rt["spec"]) - KSERVE_RUNTIME_FIELDS - KSERVE_RUNTIME_POD_FIELDS
        self.assertEqual(unknown, set(), "fields KServe's ServingRuntimeSpec does not have")
        self.assertEqual(rt["spec"]["protocolVersions"], ["v2"])
        (c,) = rt["spec"]["containers"]
        env = self.check_server_container(c)
        self.assertEqual(env["HAN_MODELS_DIR"], "/mnt/models")  # where KServe puts storageUri
        self.assertEqual(c["securityContext"]["runAsUser"], dockerfile_user_id())
        formats = {f["name"] for f in rt["spec"]["supportedModelFormats"]}

        (path, isvc), = [(p, d) for p, d in self.isvcs() if p.name == "servingruntime.yaml"]
        self.check_envelope(isvc, "serving.kserve.io/v1beta1")
        impls, custom = self.check_predictor(isvc["spec"]["predictor"])
        self.assertEqual((impls, custom), (["model"], False))
        model = isvc["spec"]["predictor"]["model"]
        container_part = {k: v for k, v in model.items() if k not in KSERVE_MODEL_SCHEMA["properties"]}
        self.assertEqual(errors_of(jsonschema.Draft202012Validator(KSERVE_MODEL_SCHEMA), model), [])
        self.assertEqual(errors_of(self.container_v, {"name": "x", **container_part}), [])
        self.assertEqual(model["protocolVersion"], "v2")
        self.assertIn(model["modelFormat"]["name"], formats)
        self.assertEqual(model["runtime"], rt["metadata"]["name"])

    def test_a_wrong_field_is_caught(self):
        (_, isvc), = [(p, d) for p, d in self.isvcs() if p.name == "inferenceservice.yaml"]
        broken = json.loads(json.dumps(isvc["spec"]["predictor"]))
        broken["containers"][0]["readinessprobe"] = {}
        self.assertNotEqual(errors_of(self.podspec_v, {"containers": broken["containers"]}), [])
        broken = json.loads(json.dumps(isvc["spec"]["predictor"]))
        broken["minReplica"] = 1
        with self.assertRaises(AssertionError):
            self.check_predictor(broken)


# --- compose ----------------------------------------------------------------------------


class ComposeTest(unittest.TestCase):
    def setUp(self):
        (self.compose,) = load_all(DOCKER / "compose.yaml")
        (self.svc,) = self.compose["services"].values()

    def test_builds_this_dockerfile(self):
        build = self.svc["build"]
        self.assertEqual((DOCKER / build["context"]).resolve(), ROOT)
        self.assertTrue((ROOT / build["dockerfile"]).is_file())

    def test_healthcheck_and_model_folder(self):
        test = self.svc["healthcheck"]["test"]
        self.assertEqual(test[:3], ["CMD", "bash", "-c"])
        self.assertIn("/dev/tcp/127.0.0.1/$${HAN_PORT:-8080}", test[3])
        self.assertIn("/v2/health/live", test[3])
        # compose interpolates $VAR in the file: a literal $ must be written $$.
        self.assertIsNone(re.search(r"(?<!\$)\$(?!\$)", test[3].replace("$$", "")), test[3])
        mounts = [v.split(":") for v in self.svc["volumes"]]
        self.assertIn(["./models", "/models", "ro"], mounts)
        self.assertTrue((DOCKER / "models").is_dir())
        published = [p.rsplit(":", 1)[1] for p in self.svc["ports"]]
        self.assertEqual(published, [str(dockerfile_port())])

    def test_stop_grace_outlasts_the_drain(self):
        grace = self.svc["stop_grace_period"]
        self.assertRegex(grace, r"^\d+s$")
        drain_s = int(self.svc["environment"]["HAN_SHUTDOWN_GRACE_MS"]) / 1000
        self.assertGreater(int(grace[:-1]), drain_s)


if __name__ == "__main__":
    unittest.main()

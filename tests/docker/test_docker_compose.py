"""docker-compose.yml: web + redis + workers, the scale-out mode (`docker compose up --scale worker=3`)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, require

COMPOSE = ROOT / "docker-compose.yml"
BROKER = "redis://redis:6379/0"


@pytest.fixture(scope="module")
def compose() -> dict:
    try:
        import yaml
    except ImportError:
        require(False, "PyYAML is not installed (pip install pyyaml; it belongs in the test extra)")
    assert COMPOSE.is_file(), "docker-compose.yml missing"
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services in docker-compose.yml"
    return data


def env(service: dict) -> dict:
    value = service.get("environment") or {}
    if isinstance(value, list):  # the KEY=VALUE list form
        value = dict(item.split("=", 1) for item in value)
    return {k: str(v) for k, v in value.items()}


def command(service: dict) -> list[str]:
    value = service.get("command")
    return value.split() if isinstance(value, str) else list(value or [])


def test_services(compose):
    assert {"web", "redis", "worker"} <= set(compose["services"])


def test_web_and_workers_share_the_image_and_the_broker(compose):
    services = compose["services"]
    web, worker = services["web"], services["worker"]
    assert web.get("image") and web.get("image") == worker.get("image"), "web and worker run the same image"
    assert web.get("build"), "web builds the image from this repository"
    for name in ("web", "worker"):
        assert env(services[name]).get("IMPASTO_BROKER_URL") == BROKER, f"{name} needs IMPASTO_BROKER_URL={BROKER}"
        depends = services[name].get("depends_on") or []
        assert "redis" in depends, f"{name} must start after redis"


def test_web_serves_port_8000_and_keeps_data_on_a_named_volume(compose):
    web = compose["services"]["web"]
    assert any(str(p).split(":")[-1].split("/")[0] == "8000" for p in web.get("ports", [])), "web must publish 8000"
    volumes = [str(v) for v in web.get("volumes", [])]
    named = [v.split(":")[0] for v in volumes if v.split(":")[1:2] == ["/data"]]
    assert named and named[0] in (compose.get("volumes") or {}), "web's /data must be a named volume"
    if cmd := command(web):
        assert cmd[:2] == ["impasto", "serve"]


def test_worker_runs_impasto_worker_and_scales(compose):
    worker = compose["services"]["worker"]
    assert command(worker)[:2] == ["impasto", "worker"]
    # --scale worker=N needs no fixed name, no published port, no data volume shared with web.
    assert "container_name" not in worker and not worker.get("ports")
    assert not any(":/data" in str(v) for v in worker.get("volumes", [])), "workers need no /data (files go via Redis)"


def test_redis(compose):
    redis = compose["services"]["redis"]
    assert redis.get("image", "").startswith("redis:7")


def test_redis_keeps_the_jobs_across_restarts():
    import yaml

    from tests.conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    redis = compose["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    assert "allkeys" not in str(redis)  # never evict: Redis is the job store


def test_web_is_published_on_loopback_until_opened(compose):
    # Only this machine reaches the studio until its operator opens it (after setting a password).
    ports = [str(p) for p in compose["services"]["web"].get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports
    text = COMPOSE.read_text(encoding="utf-8")
    assert '"8000:8000"' in text and "password" in text.lower()  # the comment on how to open it
    assert "IMPASTO_TRUSTED_HOSTS" in text and "IMPASTO_PROXY_COUNT" in text


def test_the_dockerfile_documents_the_trusted_hosts():
    assert "IMPASTO_TRUSTED_HOSTS" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _merged(base: dict, override: dict) -> dict:
    """Compose's merge of an override file, for what these tests read: mappings merge, volumes by target."""
    merged = {**base, **override}
    for key in ("environment", "build"):
        if isinstance(base.get(key), dict) or isinstance(override.get(key), dict):
            merged[key] = {**(base.get(key) or {}), **(override.get(key) or {})}
    volumes = {_target(v): str(v) for v in base.get("volumes", [])}
    volumes.update({_target(v): str(v) for v in override.get("volumes", [])})
    merged["volumes"] = list(volumes.values())
    return merged


def _target(volume) -> str:
    """The container path of a short-syntax volume (its source may hold ${VAR:-default})."""
    return str(volume).rsplit(":", 2)[1] if str(volume).endswith((":ro", ":rw")) else str(volume).rsplit(":", 1)[1]


def test_offline_override_mounts_the_weights_read_only_and_names_them(compose):
    import yaml

    offline = yaml.safe_load((ROOT / "docker-compose.offline.yml").read_text(encoding="utf-8"))
    for name in ("web", "worker"):
        service = _merged(compose["services"][name], offline["services"][name])
        weights = [v for v in service["volumes"] if _target(v) == "/weights"]
        assert weights and weights[0].endswith(":ro"), f"{name}: the weights folder, read-only"
        assert env(service)["IMPASTO_VGG_WEIGHTS"].startswith("/weights/")
        assert str(service["build"]["args"]["FETCH_WEIGHTS"]) == "0"
        assert env(service)["IMPASTO_BROKER_URL"] == BROKER  # the rest of the service is kept
    web = _merged(compose["services"]["web"], offline["services"]["web"])
    assert any(_target(v) == "/data" for v in web["volumes"]), "web keeps its /data volume"


def test_redis_snapshots_are_never_committed_or_sent_to_the_build():
    for name in (".gitignore", ".dockerignore"):
        assert "dump.rdb" in (ROOT / name).read_text(encoding="utf-8").split(), f"{name} must ignore dump.rdb"


def test_the_weights_folder_and_the_password_file_are_never_committed_or_sent_to_the_build():
    # docker-compose.offline.yml reads ./weights by default; docs/security.md's secret example ./impasto_password.txt.
    for name in (".gitignore", ".dockerignore"):
        patterns = [line.strip("/") for line in (ROOT / name).read_text(encoding="utf-8").split()]
        assert "weights" in patterns and "impasto_password.txt" in patterns, name


# -- the metrics profile: Prometheus and Grafana, provisioned from docs/deploy/ ------------------------

DEPLOY = ROOT / "docs" / "deploy"


def _bind_mounts(service: dict) -> dict[str, str]:
    """Container path -> repository file of each ./ bind mount."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_the_metrics_profile_adds_prometheus_and_grafana_only_on_request(compose):
    services = compose["services"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    for name, service in services.items():
        # a plain `docker compose up` starts what it started before; the profile adds the two
        assert service.get("profiles") == (["metrics"] if name in ("prometheus", "grafana") else None), name
    for name in ("prometheus", "grafana"):
        ports = [str(p) for p in services[name].get("ports", [])]
        assert ports and all(p.startswith("127.0.0.1:") for p in ports), (name, ports)
        for target, source in _bind_mounts(services[name]).items():
            assert (ROOT / source).is_file(), f"{name} mounts {source}, which the repository lacks"
            assert str(services[name]["volumes"]).count(target) == 1
    assert "prometheus-data" in compose["volumes"] and "grafana-data" in compose["volumes"]


def test_web_and_workers_take_metrics_from_the_operator_off_by_default(compose):
    services = compose["services"]
    for name in ("web", "worker"):
        assert env(services[name])["IMPASTO_METRICS"] == "${IMPASTO_METRICS:-off}", name
    assert env(services["web"])["IMPASTO_METRICS_TOKEN"] == "${IMPASTO_METRICS_TOKEN:-}"
    assert "IMPASTO_METRICS_TOKEN" not in env(services["worker"])  # workers serve nothing
    assert env(services["prometheus"])["IMPASTO_METRICS_TOKEN"] == "${IMPASTO_METRICS_TOKEN:-}"


def test_prometheus_scrapes_web_with_the_token_its_entrypoint_writes(compose):
    import yaml

    prometheus = compose["services"]["prometheus"]
    config_path = next(t for t, source in _bind_mounts(prometheus).items() if source.endswith("prometheus.yml"))
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["web:8000"]
    token_file = job["authorization"]["credentials_file"]
    script = prometheus["entrypoint"][-1]
    assert f"> {token_file} " in script and "$$IMPASTO_METRICS_TOKEN" in script and "umask 077" in script
    assert f"--config.file={config_path}" in script and "exec /bin/prometheus" in script


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(compose):
    import json

    import yaml

    mounts = _bind_mounts(compose["services"]["grafana"])
    datasource = yaml.safe_load((DEPLOY / "grafana" / "datasource.yml").read_text(encoding="utf-8"))["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and datasource["type"] == "prometheus"
    provider = yaml.safe_load((DEPLOY / "grafana" / "dashboards.yml").read_text(encoding="utf-8"))["providers"][0]
    dashboard_target = next(t for t, s in mounts.items() if s.endswith("impasto.json"))
    assert dashboard_target.rsplit("/", 1)[0] == provider["options"]["path"]
    assert any(t.startswith("/etc/grafana/provisioning/datasources/") for t in mounts)
    assert any(t.startswith("/etc/grafana/provisioning/dashboards/") for t in mounts)
    dashboard = json.loads((DEPLOY / "grafana" / "impasto.json").read_text(encoding="utf-8"))
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {datasource["uid"]}


def test_the_dashboard_asks_only_for_metrics_the_studio_serves():
    import json
    import re

    from impasto.jobs.metrics import SPECS
    from impasto.jobs.metrics_files import WORKERS_ALIVE
    from impasto.web.metric_gauges import GAUGES

    served = {WORKERS_ALIVE[0], *(name for name, _, _ in GAUGES)}
    for spec in SPECS:
        served |= {spec.name + "_total"} if spec.kind == "counter" else {spec.name + s for s in ("_bucket", "_sum",
                                                                                               "_count")}
    dashboard = json.loads((DEPLOY / "grafana" / "impasto.json").read_text(encoding="utf-8"))
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\bimpasto_[a-z_]+", target["expr"])}
    assert asked and asked <= served, asked - served
    assert served - asked <= {"impasto_job_duration_seconds_sum", "impasto_job_duration_seconds_count",
                              "impasto_queue_wait_seconds_sum", "impasto_queue_wait_seconds_count"}

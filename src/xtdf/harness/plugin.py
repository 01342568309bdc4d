"""The pytest plugin behind ``xtest/``: options, the SDK matrix, fixtures, the cache.

Load it with ``pytest_plugins = ["xtdf.harness.plugin"]`` (``xtest/conftest.py`` does).
The fixture names are upstream's (``encrypt_sdk``, ``decrypt_sdk``, ``container``,
``in_focus``, ``pt_file``, ``tmp_dir``, ``size``) so upstream-style test modules read as
they always did; ``ciphertexts`` replaces upstream's per-process ``cipherTexts`` dict.
"""

from __future__ import annotations

import contextlib
import os
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xtdf.harness import limits, platform_env, report, scheduling, timing
from xtdf.harness import options as opts
from xtdf.harness.cache import SharedCache
from xtdf.harness.ciphertexts import CipherTexts, kas_fingerprint
from xtdf.harness.report import MatrixReport
from xtdf.harness.sdks import SDK, discover, select, valid_names

SIZES = {"small": 5 * 1024, "large": 5 * 1024**3}


@dataclass
class Harness:
    """Per-process state of the plugin, kept in ``config.stash``."""

    root: Path
    run_id: str
    worker: str
    sdk_dir: Path
    encrypt_sdks: list[SDK]
    decrypt_sdks: list[SDK]
    focus: set[SDK]
    containers: list[str]
    sizes: list[str]
    cache: SharedCache
    platform: platform_env.PlatformEnv | None = None
    report: MatrixReport | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def platform_state_dir(self) -> Path:
        return Path(os.environ.get("XTDF_STATE_DIR", self.root / ".xtdf" / "platform"))

    @property
    def base_key_state_dir(self) -> Path:
        """The second platform's (see ``base_key_platform``), beside the first."""
        main = self.platform_state_dir
        return main.with_name(main.name + "-basekey")


HARNESS = pytest.StashKey[Harness]()


def pytest_addoption(parser: pytest.Parser) -> None:
    opts.add_options(parser)
    report.add_options(parser)


def _project_root(config: pytest.Config) -> Path:
    env = os.environ.get("XTDF_ROOT")
    if env:
        return Path(env).resolve()
    for candidate in (config.rootpath, *config.rootpath.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "sdk").is_dir():
            return candidate
    return config.rootpath


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    timing.restart()
    if config.getoption("platform"):  # workers inherit it with the environment
        os.environ[platform_env.PLATFORM_ENV] = config.getoption("platform")
    root = _project_root(config)
    sdk_dir = Path(os.environ.get("XTDF_SDK_DIR", root / "sdk"))
    available = discover(sdk_dir)
    names = valid_names(available)
    get = config.getoption
    default = opts.choose("--sdks", get("sdks"), names)
    enc = select(
        available,
        opts.choose("--sdks-encrypt", get("sdks_encrypt"), names)
        if get("sdks_encrypt")
        else default,
    )
    dec = select(
        available,
        opts.choose("--sdks-decrypt", get("sdks_decrypt"), names)
        if get("sdks_decrypt")
        else default,
    )
    focus = select(available, opts.choose("--focus", get("focus"), names))
    containers = opts.choose("--containers", get("containers"), list(opts.CONTAINERS))
    if _is_worker(config):
        run_id = config.workerinput["xtdf_run_id"]  # type: ignore[attr-defined]
        worker = config.workerinput["workerid"]  # type: ignore[attr-defined]
    else:
        run_id, worker = uuid.uuid4().hex, "main"
    cache_dir = Path(get("tdf_cache_dir") or root / ".xtdf" / "cache")
    cache = SharedCache(cache_dir, run_id=run_id, enabled=not get("no_tdf_cache"))
    if get("tdf_cache_clear") and not _is_worker(config):
        cache.clear()
    harness = Harness(
        root=root,
        run_id=run_id,
        worker=worker,
        sdk_dir=sdk_dir,
        encrypt_sdks=enc,
        decrypt_sdks=dec,
        focus=set(focus),
        containers=containers,
        sizes=["small", "large"] if get("large") else ["small"],
        cache=cache,
    )
    config.stash[HARNESS] = harness
    if not _is_worker(config):
        stats_json = Path(get("stats_json") or root / ".xtdf" / "last-run.json")
        html = get("report_html")
        harness.report = MatrixReport(
            config,
            stats_json,
            # beside the stats it is made from: a run with its own --stats-json (the smoke
            # tests, the bench) leaves the last `make xtest`'s report alone
            html=None
            if get("no_report_html")
            else Path(html or stats_json.with_name("report.html")),
            imported=report.load_imported(get("report_also"), report.platform_label()),
        )
        config.pluginmanager.register(harness.report, "xtdf-matrix-report")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput["xtdf_run_id"] = node.config.stash[HARNESS].run_id


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    h = metafunc.config.stash[HARNESS]
    uses_sdks = {"encrypt_sdk", "decrypt_sdk"} & set(metafunc.fixturenames)
    if uses_sdks and not (h.encrypt_sdks and h.decrypt_sdks):
        raise pytest.UsageError(
            f"no SDK selected: found {len(discover(h.sdk_dir))} under {h.sdk_dir} "
            "(expected sdk/<name>/dist/<version>/cli.sh; `make sdks` installs them)"
        )
    if "encrypt_sdk" in metafunc.fixturenames:
        metafunc.parametrize("encrypt_sdk", h.encrypt_sdks, ids=str)
    if "decrypt_sdk" in metafunc.fixturenames:
        metafunc.parametrize("decrypt_sdk", h.decrypt_sdks, ids=str)
    if "container" in metafunc.fixturenames:
        metafunc.parametrize("container", h.containers)
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", h.sizes, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a bad XTDF_PLATFORM is reported by the platform fixture, with its value
    with contextlib.suppress(platform_env.PlatformUnavailable):
        limits.mark_platform_limits(platform_env.impl(), items)
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        item.user_properties.extend(report.cell_properties(params))
    scheduling.cluster_by_family(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Attach the failing SDK's whole output to the report (the HTML report shows it)."""
    rep = yield
    section = report.sdk_output_section(call.excinfo)
    if section is not None:
        rep.sections.append(section)
    return rep


#: the test this process is running (one at a time: xdist workers are processes)
_RUNNING: list[pytest.Item] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.remove(item)


class NotingCipherTexts(CipherTexts):
    """Notes on the running test which container it encrypted, when the test has no
    ``container`` parameter: the grid then shows the test under that container
    (``grid.place_fixed_containers``) rather than guessing it from the test's name."""

    def encrypt(self, sdk: SDK, pt_file: Path, container: str, **options: object) -> Path:
        item = _RUNNING[-1] if _RUNNING else None
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item is not None and "container" not in params:
            note = (report.CONTAINER_USED_PROPERTY, container)
            if note not in item.user_properties:
                item.user_properties.append(note)
        return super().encrypt(sdk, pt_file, container, **options)


def pytest_sessionfinish(session: pytest.Session) -> None:
    h = session.config.stash.get(HARNESS, None)
    if h is None:
        return
    stats = {**h.cache.stats.as_dict(), "timing": timing.CLOCK.as_dict()}
    h.cache.close()  # this process's snapshots; nothing reads them after the session
    if _is_worker(session.config):
        session.config.workeroutput["xtdf_cache_stats"] = stats  # type: ignore[attr-defined]
        session.config.workeroutput["workerid"] = h.worker  # type: ignore[attr-defined]
        return
    if h.report is not None and not h.report.worker_stats:
        h.report.add_local_stats(h.worker, stats)
    platform_env.stop_if_ours(h.platform_state_dir, h.run_id)
    platform_env.stop_if_ours(h.base_key_state_dir, h.run_id)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def harness(pytestconfig: pytest.Config) -> Harness:
    return pytestconfig.stash[HARNESS]


@pytest.fixture(scope="session")
def platform(harness: Harness) -> platform_env.PlatformEnv:
    """The platform every SDK process talks to; its variables are exported to them."""
    if harness.platform is None:
        try:
            with timing.CLOCK.timing("platform:start"):
                harness.platform = platform_env.resolve(harness.platform_state_dir, harness.run_id)
        except platform_env.PlatformUnavailable as exc:
            pytest.fail(f"platform unavailable: {exc}", pytrace=False)
        os.environ.update(harness.platform.variables)
    return harness.platform


@pytest.fixture(scope="session")
def in_focus(harness: Harness) -> set[SDK]:
    """SDKs under focus; a cell runs when one of its SDKs is in this set."""
    return harness.focus or set(harness.encrypt_sdks) | set(harness.decrypt_sdks)


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Per worker (xdist gives each its own base) and per test module."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def ciphertexts(
    harness: Harness, platform: platform_env.PlatformEnv, tmp_path_factory: pytest.TempPathFactory
) -> CipherTexts:
    return NotingCipherTexts(
        harness.cache,
        kas_keys=kas_fingerprint(platform.variables),
        private_dir=tmp_path_factory.mktemp("private-ciphertexts"),
    )


@pytest.fixture(scope="session")
def pt_file(harness: Harness, size: str) -> Path:
    """Deterministic plaintext, the same bytes in every worker (so cache keys agree);
    made once in the shared cache, which matters for the 5 GiB one."""
    n = SIZES[size]

    def produce(out: Path) -> None:
        rng = random.Random(f"xtdf-{size}")
        with open(out, "wb") as fh:
            left = n
            while left:
                chunk = min(left, 1 << 24)
                fh.write(rng.randbytes(chunk))
                left -= chunk

    from xtdf.harness.cache import cache_key

    key = cache_key(kind="plaintext", size=size, bytes=n, generator="random.Random-v1")
    return harness.cache.get_or_create_copy(
        key, produce, suffix=".bin", private_dir=harness.root / ".xtdf" / "private", counted=False
    )


@pytest.fixture(scope="session")
def admin(platform: platform_env.PlatformEnv):
    """A policy admin client on the suite's platform (what upstream does with otdfctl)."""
    from xtdf.platform.admin import PolicyAdmin

    v = platform.variables
    client = PolicyAdmin(v["PLATFORMURL"], v["CLIENTID"], v["CLIENTSECRET"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def abac_layout(admin, ciphertexts: CipherTexts, platform: platform_env.PlatformEnv) -> dict:
    """The shared attribute fixture (``xtdf.harness.abac``), made once per run by one worker."""
    from xtdf.harness import abac

    client_id = platform.variables["CLIENTID"]

    def make() -> dict:
        with timing.CLOCK.timing("platform:policy"):
            return abac.ensure(admin, client_id)

    return ciphertexts.shared_value(  # type: ignore[return-value]
        "abac-layout", {"client": client_id}, make
    )


@pytest.fixture(scope="session")
def base_key_platform(
    harness: Harness,
    platform: platform_env.PlatformEnv,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[platform_env.PlatformEnv, CipherTexts]:
    """A second embedded platform whose base key is ``abac.BASE_KEY``, with a
    ``CipherTexts`` keyed by its keys. Setting a base key on the suite's platform would
    reroute every other test's attribute-free encryption, so these cells get their own."""
    from xtdf.harness import abac

    if platform.external:
        pytest.skip(
            "base-key cells need the embedded platform: a base key set on the external one "
            "would change what every other test encrypts"
        )
    try:
        with timing.CLOCK.timing("platform:start"):
            env = platform_env.resolve_sidecar(
                harness.base_key_state_dir, harness.run_id, abac.ensure_base_key
            )
    except platform_env.PlatformUnavailable as exc:
        pytest.fail(f"platform unavailable: {exc}", pytrace=False)
    keys = kas_fingerprint(env.variables) + abac.base_key_fingerprint(env)
    cts = NotingCipherTexts(
        harness.cache,
        kas_keys=keys,
        private_dir=tmp_path_factory.mktemp("private-basekey-ciphertexts"),
    )
    return env, cts

"""The vendored docs assets are the pinned npm packages' files, and the docs pages use them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from api.docs_pages import SCALAR, SWAGGER_UI, VENDOR_URL, render_plugins

VENDOR = Path(__file__).resolve().parents[2] / "api" / "static" / "vendor"


def test_vendored_files_match_the_manifest() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    assert set(manifest) == {SWAGGER_UI, SCALAR}
    for folder, package in manifest.items():
        assert folder == f"{package['package'].lstrip('@').replace('/', '-')}@{package['version']}"
        files = {path.name for path in (VENDOR / folder).iterdir()}
        assert files == set(package["sha256"])
        for name, digest in package["sha256"].items():
            assert hashlib.sha256((VENDOR / folder / name).read_bytes()).hexdigest() == digest
        published = json.loads((VENDOR / folder / "package.json").read_text())
        assert published["version"] == package["version"]


def test_docs_pages_load_only_vendored_files() -> None:
    for plugin in render_plugins():
        urls = [getattr(plugin, name, None) for name in ("js_url", "css_url")]
        urls.append(getattr(plugin, "standalone_preset_js_url", None))
        for url in filter(None, urls):
            if url.startswith(VENDOR_URL):
                assert (VENDOR / url.removeprefix(VENDOR_URL + "/")).is_file(), url
            else:
                # only Scalar's css_url is unused (its bundle carries the styles)
                assert plugin.__class__.__name__ == "OfflineScalar", url
        assert plugin.favicon == ""

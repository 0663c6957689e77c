"""The permissions table covers every API call gpucheck makes, and grants nothing no code uses.

The package's source is scanned: `verb=`/`resource=` passed to `Cluster.call`, the resource of
`list_views`, watches (`Watch().stream(fn)`, `wait_for(fn)`), and every reference to
a Kubernetes client method (`cluster.core.delete_namespaced_pod`), whose verb and resource
follow from its name. The simulated cluster's own code (gpucheck/sim) is not gpucheck's
runtime and is left out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gpucheck.cluster import permissions
from gpucheck.cluster.permissions import PERMISSIONS, Permission

PACKAGE = Path(permissions.__file__).resolve().parents[1]
API_ATTRS = {"core", "apps", "node_api", "scheduling", "storage", "custom", "authz"}
VERBS = {"list": "list", "read": "get", "create": "create", "delete": "delete", "patch": "patch",
         "replace": "update"}
_METHOD = re.compile(r"^(list|read|create|delete|patch|replace)_(namespaced_)?(\w+?)(_for_all_namespaces)?$")


def _plural(snake: str) -> str:
    word = snake.replace("_", "")
    if word.endswith(("s", "x")):
        return word + "es"
    if word.endswith("y"):
        return word[:-1] + "ies"
    return word + "s"


def _from_method(name: str, args: list[ast.expr]) -> tuple[str, str | None, str] | None:
    """(verb, group or None, resource) a client method name means."""
    if name.endswith("_cluster_custom_object") or name.endswith("_namespaced_custom_object"):
        consts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(consts) >= 3:
            return VERBS[name.split("_")[0]], consts[0], consts[2]
        return None
    if name.startswith("delete_collection_"):
        m = _METHOD.match("delete_" + name[len("delete_collection_"):])
        return ("deletecollection", None, _plural(m.group(3))) if m else None
    m = _METHOD.match(name)
    if not m:
        return None
    kind, sub = m.group(3), ""
    for suffix in ("_log", "_status"):
        if m.group(1) == "read" and kind.endswith(suffix):
            kind, sub = kind[: -len(suffix)], suffix[1:]
    return VERBS[m.group(1)], None, _plural(kind) + (f"/{sub}" if sub else "")


def _normalize(resource: str) -> tuple[str | None, str]:
    """'daemonsets.apps' -> ('apps', 'daemonsets'); 'secrets (metadata only)' -> (None, 'secrets')."""
    resource = resource.split(" (")[0].strip()
    base, _, sub = resource.partition("/")
    name, _, group = base.partition(".")
    return (group or ""), name + (f"/{sub}" if sub else "")


def _client_method(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        recv = node.value
        rname = recv.attr if isinstance(recv, ast.Attribute) else recv.id if isinstance(recv, ast.Name) else None
        if rname in API_ATTRS:
            return node.attr
    return None


def _kw(call: ast.Call, name: str) -> str | None:
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str):
            return k.value.value
    return None


def api_uses(source: str, filename: str = "<src>") -> list[tuple[str, str | None, str, str]]:
    """(verb, group or None, resource, where) for every API use in `source`."""
    uses: list[tuple[str, str | None, str, str]] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            verb, resource = _kw(node, "verb"), _kw(node, "resource")
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else \
                node.func.id if isinstance(node.func, ast.Name) else ""
            if resource and (verb or fname == "list_views"):
                group, res = _normalize(resource)
                uses.append((verb or "list", group, res, where))
            watched = fname == "stream" or fname in ("wait_for", "wait_deleted")
            if watched and node.args:
                method = _client_method(node.args[0])
                derived = _from_method(method, node.args[1:]) if method else None
                if derived:
                    uses.append(("watch", derived[1], derived[2], where))
                    if fname != "stream":
                        uses.append(("list", derived[1], derived[2], where))
            for arg in node.args if fname != "stream" else ():  # a method as a value: fn of call/list_views
                method = _client_method(arg)
                derived = _from_method(method, node.args) if method else None
                if derived:
                    uses.append((*derived, where))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = _client_method(node.func)
            derived = _from_method(method, node.args) if method else None
            if derived:
                uses.append((*derived, where))
    return uses


def _package_uses() -> list[tuple[str, str | None, str, str]]:
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if rel.parts[1] == "sim":
            continue
        uses.extend(api_uses(path.read_text(), str(rel)))
    return uses


def _covered(verb: str, group: str | None, resource: str) -> bool:
    return bool(permissions.find(verb, resource, group))


def test_the_table_is_well_formed():
    permissions.validate()
    assert len({(p.verbs, p.group, p.resource, p.scope) for p in PERMISSIONS}) == len(PERMISSIONS)


def test_every_api_call_in_the_package_is_in_the_table():
    uses = _package_uses()
    missing = sorted({f"{v} {r}{'.' + g if g else ''} at {w}" for v, g, r, w in uses if not _covered(v, g, r)})
    assert not missing, "API calls the permissions table lacks:\n" + "\n".join(missing)


def test_the_scan_sees_every_way_the_package_calls_the_api():
    seen = {(v, r) for v, _, r, _ in _package_uses()}
    for pair in [("list", "daemonsets"), ("watch", "pods"), ("deletecollection", "pods"), ("get", "pods/log"),
                 ("get", "secrets"), ("create", "subjectaccessreviews"), ("list", "persistentvolumeclaims"),
                 ("watch", "persistentvolumeclaims"), ("list", "nodepools"), ("create", "configmaps"),
                 ("delete", "configmaps")]:
        assert pair in seen, pair


def test_a_new_call_the_table_lacks_is_caught():
    src = ("def f(cluster):\n"
           "    cluster.call(cluster.core.patch_node, 'n', {}, verb='patch', resource='nodes')\n"
           "    w.stream(cluster.core.list_namespaced_event, 'ns')\n"
           "    cluster.core.delete_collection_namespaced_config_map('ns')\n")
    uses = {(v, r) for v, g, r, _ in api_uses(src) if not _covered(v, g, r)}
    assert uses == {("patch", "nodes"), ("watch", "events"), ("deletecollection", "configmaps")}


def test_nothing_is_granted_that_no_code_asks_for():
    seen = {(v, r) for v, _, r, _ in _package_uses()}
    unused = [f"{v} {p.resource}" for p in PERMISSIONS for v in p.verbs if (v, p.resource) not in seen]
    assert not unused, f"table entries no code uses (least privilege): {unused}"


@pytest.mark.parametrize("perm,qualified", [
    (Permission(("list",), "apps", "daemonsets", permissions.CLUSTER, ("snapshot",), ""), "daemonsets.apps"),
    (Permission(("get",), "", "pods/log", permissions.WORKSPACE, ("snapshot",), ""), "pods/log"),
])
def test_qualified_names_match_what_a_403_says(perm, qualified):
    assert perm.qualified == qualified


def test_snapshot_kinds_come_from_the_snapshot():
    from gpucheck.inventory.snapshot import KINDS

    listed = {(p.group, p.resource) for p in PERMISSIONS if "snapshot" in p.needed_by}
    assert listed == set(KINDS.values())
    daemonsets = next(p for p in PERMISSIONS if p.resource == "daemonsets")
    assert {"GPU-DP-001", "GPU-DP-002", "GPU-DP-003", "GPU-METRICS-001"} <= set(daemonsets.needed_by)
